"""From-scratch fundamentals: autodiff, optimizers, worked examples."""
