//! Explanations of the ENN: Grad-CAM and lottery-ticket masks.
