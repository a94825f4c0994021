"""Scale-out paths on existing engines: Ray Data for embedding (`ray_embedding`), torchrun / accelerate
for data-parallel training (`train_ddp`). Neither is imported by the dbt models: a single-machine build
never needs Ray or a process group."""
