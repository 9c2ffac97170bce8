"""Live streams: subscriptions, adapters per exchange, and publishing to Kafka."""
