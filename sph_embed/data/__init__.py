"""Data: mesh loading, sources (synthetic, ModelNet40, ShapeNet, list
files), ray casting, headless rendering, views, the example schema, the
sharded TFRecord builder, the tf.data input pipeline and the on-the-fly view
stream.  Uses `sph_embed.sphere` only.
"""
