"""run: running things on stacks — what a face asks for, resolved once (request: RunRequest),
bringing a stack up until it is recovered (bringup), the run loop of one scenario variant
(loop), variants as parallel jobs (jobs), one step on a running stack (oneshot). Imports the
layers below the faces: model, inputs, stack, steps, checks, traffic, judging."""
