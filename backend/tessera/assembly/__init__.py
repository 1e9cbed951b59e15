"""The top layer's parts: the context of one process, the raw store behind the hot paths and
the services built from them. Only the assembly imports every layer below it."""
