"""Looking into a network: one training step written out (:mod:`.trace`), how each prediction moves
with each input (:mod:`.gradients`), which inputs it relies on (:mod:`.importance`), how fast to
train it (:mod:`.lr_find`) and pictures (:mod:`.plotting`)."""
