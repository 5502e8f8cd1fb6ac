"""The distributed mode on several hosts made of network namespaces (issue 18)."""
