"""The report layer: figures made from the library's results (matplotlib).

Nothing here imports TensorFlow, except `synthesize_views` and
`synthesis_benchmark`, which run a synthesis module on dataset examples,
and `html_report`, which rebuilds dataset meshes through `synthesize_views`
and reads TensorBoard event files.
"""
