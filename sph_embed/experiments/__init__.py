"""The paper's experiments as plain config files, and their runner.

configs/<name>.json holds one experiment (data, teacher, networks,
evaluation); `config` reads, overrides and checks them, `runner` turns one
into the stages tools/reproduce.py runs.  Nothing here imports TensorFlow:
every stage is a repository tool run as a subprocess.
"""
