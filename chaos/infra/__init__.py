"""The machinery a run starts: server processes, PostgreSQL, etcd, proxies, credentials and certificates, network namespaces."""
