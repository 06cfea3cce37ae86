//! Robustness of the tensor layer: element-count limits and empty axes are typed errors
//! (moved from tests/robustness.rs).

use grad_instructor::tensor::MAX_ELEMENTS;
use grad_instructor::{Error, Shape, Tensor};

#[test]
fn shape_rejects_element_counts_above_max_elements_and_overflowing_dims() {
    assert_eq!(MAX_ELEMENTS, 1 << 32);
    assert!(Shape::new(&[1 << 16, 1 << 16]).is_ok()); // exactly 2^32: allowed
    for dims in [
        &[(1 << 16) + 1, 1 << 16][..],
        &[usize::MAX, 2],
        &[1 << 40, 0, 1 << 40], // empty, but its nonzero dims overflow
        &[1 << 33],
    ] {
        assert!(
            matches!(Shape::new(dims), Err(Error::Shape { .. })),
            "{dims:?}"
        );
        assert!(Tensor::zeros(dims).is_err(), "{dims:?}");
    }
    // Empty tensors with large (but representable) other dims stay valid.
    assert_eq!(Shape::new(&[1 << 40, 0]).unwrap().numel(), 0);
    // Ops that would need a huge output return an error before allocating it.
    let e = Tensor::from_vec(vec![], &[1 << 20, 0, 1 << 20]).unwrap();
    assert!(matches!(e.sum_axis(1), Err(Error::Shape { .. })));
    assert!(matches!(e.max_axis(1), Err(Error::Shape { .. })));
    let a = Tensor::from_vec(vec![], &[1 << 20, 0]).unwrap();
    let b = Tensor::from_vec(vec![], &[0, 1 << 20]).unwrap();
    assert!(matches!(a.matmul(&b), Err(Error::Shape { .. })));
}

#[test]
fn argmax_over_a_zero_length_axis_is_an_error_not_index_zero() {
    let t = Tensor::from_vec(vec![], &[3, 0]).unwrap();
    assert!(matches!(t.argmax_axis(1), Err(Error::Shape { .. })));
    // Over the other axis the output is empty, which is fine.
    assert_eq!(t.argmax_axis(0).unwrap(), Vec::<usize>::new());
    let u = Tensor::from_vec(vec![1.0, 3.0, 2.0], &[1, 3]).unwrap();
    assert_eq!(u.argmax_axis(1).unwrap(), vec![1]);
}
