"""Publishing: the Hub dataset folder (parquet shards + card), model and dataset cards, pushing to the Hub."""
