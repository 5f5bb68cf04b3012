"""The report layer: figures made from the library's results (matplotlib).

Nothing here imports TensorFlow, except `synthesize_views` and
`synthesis_benchmark`, which run a synthesis module on dataset examples,
`absolute_poses`, which runs a model of absolute pose (regression,
Image2Sphere) over a dataset split, `picture_poses`, which runs the pose
networks on a user's pictures, `demo`, and `html_report`, which
rebuilds dataset meshes through `synthesize_views` and reads TensorBoard
event files.  `absolute_csv` (the baselines' per-view errors) is NumPy.
"""
