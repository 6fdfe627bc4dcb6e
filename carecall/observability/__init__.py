"""What an operator's tools read from a running instance: readiness and Prometheus metrics."""
