//! [`Module`]: a model's parameters, each with a dotted name, in one fixed order.
//!
//! A model says once which tensors it owns (its fields, in order); everything that walks
//! parameters is written here once on top of that: the lists an optimizer steps
//! ([`Module::params_mut`]), the names a weights file stores ([`Module::named_params`],
//! [`Module::load_named`]), and the gradients taken off a tape in the same order
//! ([`Module::grads`]). A plain [`Tensor`] is a module with one parameter (named by its
//! prefix), so a struct of tensors and sub-modules is a module by listing its fields with
//! [`impl_module!`](crate::impl_module):
//!
//! ```
//! use grad_instructor::nn::{Linear, Module};
//! use grad_instructor::{impl_module, Tensor};
//! struct TwoLayer {
//!     hidden: Linear,
//!     out: Linear,
//!     scale: Tensor,
//! }
//! impl_module!(TwoLayer { hidden, out, scale });
//! # fn main() -> grad_instructor::Result<()> {
//! let lin = |i, o| Linear { weight: Tensor::zeros(&[o, i]).unwrap(), bias: Tensor::zeros(&[o]).unwrap() };
//! let net = TwoLayer { hidden: lin(3, 4), out: lin(4, 2), scale: Tensor::ones(&[1])? };
//! let names: Vec<String> = net.named_params().into_iter().map(|(n, _)| n).collect();
//! assert_eq!(names, ["hidden.weight", "hidden.bias", "out.weight", "out.bias", "scale"]);
//! # Ok(()) }
//! ```
//!
//! Saving and loading by name is then one call each way around a weights-file writer, which
//! lives above `nn` (in `io`): `m.with_named_params(|named| safetensors::save(path, named, meta))`
//! and `m.load_named(safetensors::load(path)?.tensors)`.
//!
//! Slices, arrays and `Vec`s of modules are modules (their elements named `0`, `1`, …), and so
//! is `&mut M`; that is what lets an optimizer step a whole model or a list of tensors alike.

use crate::autodiff::{Gradients, Tape};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::collections::HashMap;
use std::fmt;

/// A model that owns named parameters in a fixed order (see the [module docs](self)).
///
/// Implementors provide the two visits, in the same order; every other method is built on
/// them. [`impl_module!`](crate::impl_module) writes both from a list of fields.
pub trait Module {
    /// Calls `f(name, p)` for every parameter `p`, in order; `name` is `prefix.field.…`
    /// (built without allocating: format it with its `Display`, e.g. `name.to_string()`, when needed).
    fn visit<'a>(&'a self, prefix: &Name<'_>, f: &mut dyn FnMut(&Name<'_>, &'a Tensor));

    /// [`Module::visit`] with mutable access, in the same order.
    fn visit_mut<'a>(&'a mut self, prefix: &Name<'_>, f: &mut dyn FnMut(&Name<'_>, &'a mut Tensor));

    /// The parameters, in order.
    fn params(&self) -> Vec<&Tensor> {
        let mut out = Vec::new();
        self.visit(&Name::ROOT, &mut |_, p| out.push(p));
        out
    }

    /// The parameters, mutable, in [`Module::params`] order.
    fn params_mut(&mut self) -> Vec<&mut Tensor> {
        let mut out = Vec::new();
        self.visit_mut(&Name::ROOT, &mut |_, p| out.push(p));
        out
    }

    /// `(name, parameter)` in [`Module::params`] order.
    fn named_params(&self) -> Vec<(String, &Tensor)> {
        let mut out = Vec::new();
        self.visit(&Name::ROOT, &mut |name, p| out.push((name.to_string(), p)));
        out
    }

    /// Calls `f` with `(name, parameter)` pairs borrowed as `&str`, the form a weights-file
    /// writer takes (`io::safetensors::save`).
    fn with_named_params<R>(&self, f: impl FnOnce(&[(&str, &Tensor)]) -> R) -> R
    where
        Self: Sized,
    {
        let named = self.named_params();
        let pairs: Vec<(&str, &Tensor)> = named.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        f(&pairs)
    }

    /// Total number of scalars in the parameters.
    fn num_scalars(&self) -> usize {
        self.params().iter().map(|p| p.numel()).sum()
    }

    /// Replaces every parameter by the tensor of the same name. The names must be exactly
    /// this module's (each once, in any order) and every shape must match the parameter it
    /// replaces; otherwise nothing is changed and the error names the first problem.
    fn load_named(&mut self, tensors: Vec<(String, Tensor)>) -> Result<()> {
        const WHAT: &str = "Module::load_named";
        let mut by_name: HashMap<String, Tensor> = HashMap::with_capacity(tensors.len());
        for (name, t) in tensors {
            if by_name.contains_key(&name) {
                return Err(Error::invalid(WHAT, format!("tensor {name:?} given twice")));
            }
            by_name.insert(name, t);
        }
        // Check everything before changing anything.
        let mut problem: Option<Error> = None;
        let mut known = 0usize;
        self.visit(&Name::ROOT, &mut |name, p| {
            if problem.is_some() {
                return;
            }
            let name = name.to_string();
            match by_name.get(&name) {
                None => problem = Some(Error::invalid(WHAT, format!("missing tensor {name:?}"))),
                Some(t) if t.shape() != p.shape() => {
                    problem = Some(Error::shape(
                        WHAT,
                        format!("{name:?} shaped {}", p.shape()),
                        format!("{}", t.shape()),
                    ))
                }
                Some(_) => known += 1,
            }
        });
        if let Some(e) = problem {
            return Err(e);
        }
        if known != by_name.len() {
            let mut ours = Vec::new();
            self.visit(&Name::ROOT, &mut |name, _| ours.push(name.to_string()));
            let mut unknown: Vec<&String> = by_name.keys().filter(|k| !ours.contains(k)).collect();
            unknown.sort();
            return Err(Error::invalid(
                WHAT,
                format!("unknown tensor {:?}", unknown[0]),
            ));
        }
        self.visit_mut(&Name::ROOT, &mut |name, p| {
            *p = by_name
                .remove(&name.to_string())
                .expect("every name checked above");
        });
        Ok(())
    }

    /// Takes the gradients of this module's parameters out of `grads`, in [`Module::params`]
    /// order. The module must have been bound on `tape` with [`Tape::param`] (each parameter
    /// once), and `grads` must come from that tape's [`Tape::backward`]. Which leaf is which
    /// parameter is found by identity: a bound parameter is borrowed, not copied.
    fn grads(&self, tape: &Tape<'_>, grads: &mut Gradients) -> Result<Vec<Tensor>> {
        let mut out = Vec::new();
        let mut problem = None;
        self.visit(&Name::ROOT, &mut |name, p| {
            if problem.is_some() {
                return;
            }
            match tape.leaf_of(p).and_then(|v| grads.take(v)) {
                Some(g) => out.push(g),
                None => {
                    problem = Some(Error::invalid(
                        "Module::grads",
                        format!(
                        "no gradient for parameter \"{name}\" (not bound as a param on this tape?)"
                    ),
                    ))
                }
            }
        });
        problem.map_or(Ok(out), Err)
    }
}

/// A parameter's dotted name (`layers.0.weight`), as a chain of parts on the stack: visiting
/// a model allocates nothing unless a caller formats the name ([`std::fmt::Display`]).
#[derive(Clone, Copy, Debug)]
pub struct Name<'p> {
    parent: Option<&'p Name<'p>>,
    part: Part<'p>,
}

#[derive(Clone, Copy, Debug)]
enum Part<'p> {
    Root,
    Field(&'p str),
    Index(usize),
}

impl<'p> Name<'p> {
    /// The empty name of a whole model.
    pub const ROOT: Name<'static> = Name {
        parent: None,
        part: Part::Root,
    };

    /// `self.field`.
    pub fn field(&'p self, field: &'p str) -> Name<'p> {
        Name {
            parent: Some(self),
            part: Part::Field(field),
        }
    }

    /// `self.i` (an element of a list of modules).
    pub fn index(&'p self, i: usize) -> Name<'p> {
        Name {
            parent: Some(self),
            part: Part::Index(i),
        }
    }
}

impl fmt::Display for Name<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            parent.fmt(f)?;
            if !matches!(parent.part, Part::Root) {
                f.write_str(".")?;
            }
        }
        match self.part {
            Part::Root => Ok(()),
            Part::Field(s) => f.write_str(s),
            Part::Index(i) => write!(f, "{i}"),
        }
    }
}

/// A tensor is one parameter, named by its prefix.
impl Module for Tensor {
    fn visit<'a>(&'a self, prefix: &Name<'_>, f: &mut dyn FnMut(&Name<'_>, &'a Tensor)) {
        f(prefix, self)
    }
    fn visit_mut<'a>(
        &'a mut self,
        prefix: &Name<'_>,
        f: &mut dyn FnMut(&Name<'_>, &'a mut Tensor),
    ) {
        f(prefix, self)
    }
}

impl<M: Module + ?Sized> Module for &mut M {
    fn visit<'a>(&'a self, prefix: &Name<'_>, f: &mut dyn FnMut(&Name<'_>, &'a Tensor)) {
        (**self).visit(prefix, f)
    }
    fn visit_mut<'a>(
        &'a mut self,
        prefix: &Name<'_>,
        f: &mut dyn FnMut(&Name<'_>, &'a mut Tensor),
    ) {
        (**self).visit_mut(prefix, f)
    }
}

/// Elements named by their index: `0.weight`, `1.weight`, …
impl<M: Module> Module for [M] {
    fn visit<'a>(&'a self, prefix: &Name<'_>, f: &mut dyn FnMut(&Name<'_>, &'a Tensor)) {
        for (i, m) in self.iter().enumerate() {
            m.visit(&prefix.index(i), f);
        }
    }
    fn visit_mut<'a>(
        &'a mut self,
        prefix: &Name<'_>,
        f: &mut dyn FnMut(&Name<'_>, &'a mut Tensor),
    ) {
        for (i, m) in self.iter_mut().enumerate() {
            m.visit_mut(&prefix.index(i), f);
        }
    }
}

impl<M: Module> Module for Vec<M> {
    fn visit<'a>(&'a self, prefix: &Name<'_>, f: &mut dyn FnMut(&Name<'_>, &'a Tensor)) {
        self.as_slice().visit(prefix, f)
    }
    fn visit_mut<'a>(
        &'a mut self,
        prefix: &Name<'_>,
        f: &mut dyn FnMut(&Name<'_>, &'a mut Tensor),
    ) {
        self.as_mut_slice().visit_mut(prefix, f)
    }
}

impl<M: Module, const N: usize> Module for [M; N] {
    fn visit<'a>(&'a self, prefix: &Name<'_>, f: &mut dyn FnMut(&Name<'_>, &'a Tensor)) {
        self.as_slice().visit(prefix, f)
    }
    fn visit_mut<'a>(
        &'a mut self,
        prefix: &Name<'_>,
        f: &mut dyn FnMut(&Name<'_>, &'a mut Tensor),
    ) {
        self.as_mut_slice().visit_mut(prefix, f)
    }
}

/// Implements [`Module`](crate::nn::Module) for a struct by listing its parameter fields in
/// order; each field is a [`Tensor`](crate::Tensor) or another module, and is named after
/// the field (`conv1.weight`). Fields not listed (strides, configuration) are not parameters.
///
/// ```
/// use grad_instructor::nn::Module;
/// use grad_instructor::{impl_module, Tensor};
/// struct Affine {
///     scale: Tensor,
///     shift: Tensor,
/// }
/// impl_module!(Affine { scale, shift });
/// let a = Affine { scale: Tensor::scalar(2.0), shift: Tensor::scalar(1.0) };
/// assert_eq!(a.params().len(), 2);
/// ```
#[macro_export]
macro_rules! impl_module {
    ($ty:ty { $($field:ident),+ $(,)? }) => {
        impl $crate::nn::Module for $ty {
            fn visit<'a>(
                &'a self,
                prefix: &$crate::nn::module::Name<'_>,
                f: &mut dyn FnMut(&$crate::nn::module::Name<'_>, &'a $crate::Tensor),
            ) {
                $( $crate::nn::Module::visit(&self.$field, &prefix.field(stringify!($field)), f); )+
            }
            fn visit_mut<'a>(
                &'a mut self,
                prefix: &$crate::nn::module::Name<'_>,
                f: &mut dyn FnMut(&$crate::nn::module::Name<'_>, &'a mut $crate::Tensor),
            ) {
                $( $crate::nn::Module::visit_mut(
                    &mut self.$field,
                    &prefix.field(stringify!($field)),
                    f,
                ); )+
            }
        }
    };
}
