"""Past one machine: Ray Data actor pools and OpenAI Batch API rounds (the optional ``[ray]`` extra).

Nothing here is imported by the core package, and importing this package imports neither Ray nor
pyarrow: each submodule pulls in what it needs when it is used.

* ``llm_extract.scale.ray_data``: ``extract_dataset`` (a Ray Dataset of documents into a Dataset of
  result rows), ``run`` (JSONL or Parquet in, Parquet parts out, exactly once per document) and
  ``compact``.
* ``llm_extract.scale.batch_api``: ``prepare``, ``submit``, ``status``, ``collect`` and ``resubmit``:
  a corpus through OpenAI's Batch API, in rounds, at the batch price.
* ``llm_extract.scale.rows``: one Arrow row per ``BatchResult``, field for field (the Parquet output).

``docs/scale.md`` says when to use which.
"""
