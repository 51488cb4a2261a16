"""The service's own processes: the dialer process and its API worker (api_workers=1), their local sockets, the
worker's supervision and its death with the dialer."""
