"""The image embedding network (`sph_embedding_residual`): model, the
area-weighted losses, training against the teacher, inference."""
