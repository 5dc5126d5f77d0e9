"""The build on Ray Data: the engine, its stages and the shards it writes."""
