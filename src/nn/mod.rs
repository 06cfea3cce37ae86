//! Neural-network building blocks on the tape: layers, losses, initializers, optimizers.
