//! Grad-CAM (Selvaraju et al. 2017) and Grad-CAM++ (Chattopadhyay et al. 2018).
//!
//! Given the last convolutional layer's maps `A_k` (K channels of h×w) and the gradient of a
//! score E with respect to them, `G_k = ∂E/∂A_k`:
//!
//! * Grad-CAM weights each channel by its average gradient,
//!   `α_k = (1/hw) Σ_ij G_k[i,j]`, and `cam = ReLU(Σ_k α_k A_k)`.
//! * Grad-CAM++ weights positive gradients by
//!   `a_k[i,j] = G² / (2G² + (Σ_ab A_k[a,b]) · G³)` (0 where G = 0), so
//!   `w_k = Σ_ij a_k[i,j] · ReLU(G_k[i,j])` and `cam = ReLU(Σ_k w_k A_k)`; this spreads credit
//!   over several instances of a pattern instead of the strongest one.
//!
//! The map is then resized bilinearly to the size of the picture the network looked at and
//! normalized; for the ENN, [`super::enn_cam`] takes it on to W1 through the image's adjoint.

use crate::error::{Error, Result};
use crate::kernels::resize::{resize_bilinear, ResizeGeometry};
use crate::tensor::Tensor;

/// Which channel weighting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CamMethod {
    /// Average gradient per channel.
    GradCam,
    /// Chattopadhyay et al.'s higher-order weighting.
    GradCamPlusPlus,
}

/// The class activation map of one example: `activations` and `gradients` are (1, K, h, w)
/// or (K, h, w); returns the (h, w) map before normalization (non-negative).
pub fn class_activation_map(
    activations: &Tensor,
    gradients: &Tensor,
    method: CamMethod,
) -> Result<Tensor> {
    if activations.shape() != gradients.shape() {
        return Err(Error::shape(
            "gradcam",
            format!("gradients shaped {}", activations.shape()),
            format!("{}", gradients.shape()),
        ));
    }
    let d = activations.dims();
    let (k, h, w) = match d {
        [1, k, h, w] | [k, h, w] => (*k, *h, *w),
        _ => {
            return Err(Error::shape(
                "gradcam",
                "(1, K, h, w) or (K, h, w)",
                format!("{d:?}"),
            ))
        }
    };
    let hw = h * w;
    let (a, g) = (activations.data(), gradients.data());
    let mut cam = vec![0.0f32; hw];
    for c in 0..k {
        let (ac, gc) = (&a[c * hw..(c + 1) * hw], &g[c * hw..(c + 1) * hw]);
        let weight = match method {
            CamMethod::GradCam => gc.iter().map(|&x| x as f64).sum::<f64>() / hw as f64,
            CamMethod::GradCamPlusPlus => {
                let sum_a: f64 = ac.iter().map(|&x| x as f64).sum();
                gc.iter()
                    .map(|&gv| {
                        let g = gv as f64;
                        let denom = 2.0 * g * g + sum_a * g * g * g;
                        if g == 0.0 || denom == 0.0 {
                            0.0
                        } else {
                            (g * g / denom) * g.max(0.0)
                        }
                    })
                    .sum::<f64>()
            }
        } as f32;
        cam.iter_mut().zip(ac).for_each(|(m, &x)| *m += weight * x);
    }
    cam.iter_mut().for_each(|m| *m = m.max(0.0));
    Tensor::from_vec(cam, &[h, w])
}

/// Bilinear resize of an (h, w) map to (out_h, out_w) (PyTorch `align_corners=False`).
pub fn upsample(map: &Tensor, out_h: usize, out_w: usize) -> Result<Tensor> {
    let (h, w) = map.matrix_dims("upsample")?;
    if out_h == 0 || out_w == 0 {
        return Err(Error::shape(
            "upsample",
            "a non-empty output",
            format!("{out_h}x{out_w}"),
        ));
    }
    let geom = ResizeGeometry::by_size(1, h, w, out_h, out_w);
    let mut out = Tensor::zeros(&[out_h, out_w])?;
    resize_bilinear(&geom, map.data(), out.data_mut());
    Ok(out)
}

/// Rescales to [0, 1] by `(x − min) / (max − min)`; a constant map becomes all zeros.
pub fn normalize_unit(map: &Tensor) -> Tensor {
    let (lo, hi) = map
        .data()
        .iter()
        .fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| {
            (l.min(x), h.max(x))
        });
    let range = hi - lo;
    map.map(|x| if range > 0.0 { (x - lo) / range } else { 0.0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradcam_matches_hand_computed_two_channel_case() {
        // Channel 0: A = [1, 2; 3, 4], G all 0.5 → α0 = 0.5.
        // Channel 1: A = [4, 0; 0, 0], G = [-1, -1; -1, -1] → α1 = −1.
        // Σ α A = [0.5 − 4, 1; 1.5, 2] → ReLU → [0, 1; 1.5, 2].
        let a = Tensor::from_vec(vec![1., 2., 3., 4., 4., 0., 0., 0.], &[1, 2, 2, 2]).unwrap();
        let g =
            Tensor::from_vec(vec![0.5, 0.5, 0.5, 0.5, -1., -1., -1., -1.], &[1, 2, 2, 2]).unwrap();
        let cam = class_activation_map(&a, &g, CamMethod::GradCam).unwrap();
        assert_eq!(cam.data(), &[0.0, 1.0, 1.5, 2.0]);
        assert_eq!(normalize_unit(&cam).data(), &[0.0, 0.5, 0.75, 1.0]);
    }

    #[test]
    fn gradcam_plus_plus_matches_hand_computed_case() {
        // One channel, A = [1, 3], G = [1, 2]: Σ A = 4.
        // a[0] = 1 / (2 + 4·1) = 1/6, a[1] = 4 / (8 + 4·8) = 1/10.
        // w = (1/6)·1 + (1/10)·2 = 1/6 + 1/5 = 11/30; cam = w·A = [11/30, 33/30].
        let a = Tensor::from_vec(vec![1., 3.], &[1, 1, 1, 2]).unwrap();
        let g = Tensor::from_vec(vec![1., 2.], &[1, 1, 1, 2]).unwrap();
        let cam = class_activation_map(&a, &g, CamMethod::GradCamPlusPlus).unwrap();
        assert!((cam.data()[0] - 11.0 / 30.0).abs() < 1e-6);
        assert!((cam.data()[1] - 33.0 / 30.0).abs() < 1e-6);
    }

    #[test]
    fn mismatched_shapes_are_an_error() {
        let a = Tensor::zeros(&[1, 2, 2, 2]).unwrap();
        let g = Tensor::zeros(&[1, 2, 2, 3]).unwrap();
        assert!(class_activation_map(&a, &g, CamMethod::GradCam).is_err());
    }
}
