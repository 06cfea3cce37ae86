//! The cells of every stage (`docs/study.md`): what each trains, on which seeds.

use super::StudyConfig;
use crate::instructor::variants::{Coupling, EnnOutputKind, InitVariant, LayerSet};

/// The stages that train (stage 5 only reads stage 4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stage {
    /// Stage 1: bp and he over depths and epochs.
    Calibration = 1,
    /// Stage 2: what any evaluator could gain.
    Ceilings = 2,
    /// Stage 3: variants of the ENN.
    Variants = 3,
    /// Stage 4: the test set, once.
    Confirmation = 4,
}

impl Stage {
    /// Stages in order.
    pub const ALL: [Stage; 4] = [
        Stage::Calibration,
        Stage::Ceilings,
        Stage::Variants,
        Stage::Confirmation,
    ];

    /// 1…4.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// From 1…4.
    pub fn from_number(n: u8) -> Option<Stage> {
        Stage::ALL.into_iter().find(|s| s.number() == n)
    }
}

/// The ENN variants of stage 3, in the pre-registered order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// The current reconstruction.
    Ref,
    /// On-policy value ENN over an area image of W1 with inert columns masked.
    OnPolicy,
    /// One ENN over every weight matrix.
    AllLayers,
    /// Multiplicative coupling with `ref`'s ENN.
    Mult,
    /// Normalised step with `ref`'s ENN.
    Norm,
    /// The component along −∂L/∂W1 with `ref`'s ENN.
    Proj,
    /// The logit instead of the sigmoid with `ref`'s ENN.
    Logit,
}

/// Which trained ENN a variant uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Recipe {
    /// `instructor::train_enn` with its defaults.
    Ref,
    /// The on-policy value ENN at a ρ (index into the grid, to keep it `Eq`).
    OnPolicy(u32),
    /// The all-layers value ENN.
    AllLayers,
}

impl Variant {
    /// The pre-registered order.
    pub const ALL: [Variant; 7] = [
        Variant::Ref,
        Variant::OnPolicy,
        Variant::AllLayers,
        Variant::Mult,
        Variant::Norm,
        Variant::Proj,
        Variant::Logit,
    ];

    /// Name in cells and tables.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Ref => "ref",
            Variant::OnPolicy => "onpolicy",
            Variant::AllLayers => "all_layers",
            Variant::Mult => "mult",
            Variant::Norm => "norm",
            Variant::Proj => "proj",
            Variant::Logit => "logit",
        }
    }

    /// Position in [`Variant::ALL`].
    pub fn order(self) -> usize {
        Variant::ALL.iter().position(|&v| v == self).unwrap_or(0)
    }

    /// The coupling with rate 1 (the study sets the rate).
    pub fn coupling(self) -> Coupling {
        match self {
            Variant::Mult => Coupling::Multiplicative { le: 1.0 },
            Variant::Norm => Coupling::Normalised { fraction: 1.0 },
            Variant::Proj => Coupling::Projected { le: 1.0 },
            _ => Coupling::Additive { le: 1.0 },
        }
    }

    /// The matrices the ENN reads and moves.
    pub fn layers(self) -> LayerSet {
        if self == Variant::AllLayers {
            LayerSet::All
        } else {
            LayerSet::First
        }
    }

    /// The ENN output the step ascends.
    pub fn output(self) -> EnnOutputKind {
        if self == Variant::Logit {
            EnnOutputKind::Logit
        } else {
            EnnOutputKind::Sigmoid
        }
    }

    /// The ENN recipe (`rho_index` matters only on-policy).
    pub fn recipe(self, rho_index: usize) -> Recipe {
        match self {
            Variant::OnPolicy => Recipe::OnPolicy(rho_index as u32),
            Variant::AllLayers => Recipe::AllLayers,
            _ => Recipe::Ref,
        }
    }
}

/// What a cell's runs ascend besides the loss.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CellEval {
    /// Plain SGD.
    None,
    /// The oracle on these matrices at step-0 ratio `rho`.
    Oracle {
        /// W1 or all.
        layers: LayerSet,
        /// ρ.
        rho: f32,
    },
    /// A trained ENN.
    Enn {
        /// The variant.
        variant: Variant,
        /// Index of ρ in the grid.
        rho_index: usize,
        /// ρ.
        rho: f32,
    },
}

/// The learning-rate schedule of a cell.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Schedule {
    /// A constant multiplier.
    Constant(f32),
    /// `1 + boost (1 − t/T)` over the first epoch (T its steps).
    WarmupFirstEpoch {
        /// The extra step at step 0 (× the loss step).
        boost: f32,
    },
}

/// One cell: a training procedure and its seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    /// Unique name within its stage (the CSV's `cell`).
    pub name: String,
    /// Hidden layers.
    pub depth: usize,
    /// Epochs.
    pub epochs: usize,
    /// Initialization.
    pub init: InitVariant,
    /// Learning-rate schedule.
    pub schedule: Schedule,
    /// L1 strength.
    pub l1: f32,
    /// The evaluator, if any.
    pub eval: CellEval,
    /// Record the evaluation accuracy after every epoch (stage 1).
    pub curve: bool,
    /// MLP seed offsets.
    pub seeds: Vec<u64>,
    /// ENN seed offsets (empty: no ENN).
    pub enn_seeds: Vec<u64>,
}

impl Cell {
    fn plain(name: &str, depth: usize, epochs: usize, seeds: &[u64]) -> Cell {
        Cell {
            name: name.to_string(),
            depth,
            epochs,
            init: InitVariant::Default,
            schedule: Schedule::Constant(1.0),
            l1: 0.0,
            eval: CellEval::None,
            curve: false,
            seeds: seeds.to_vec(),
            enn_seeds: Vec::new(),
        }
    }

    /// The (MLP seed, ENN seed) pairs of the cell's runs, in order.
    pub fn runs(&self) -> Vec<(u64, Option<u64>)> {
        if self.enn_seeds.is_empty() {
            self.seeds.iter().map(|&s| (s, None)).collect()
        } else {
            self.enn_seeds
                .iter()
                .flat_map(|&e| self.seeds.iter().map(move |&s| (s, Some(e))))
                .collect()
        }
    }

    /// ρ of the cell, if it has an evaluator.
    pub fn rho(&self) -> Option<f32> {
        match self.eval {
            CellEval::None => None,
            CellEval::Oracle { rho, .. } | CellEval::Enn { rho, .. } => Some(rho),
        }
    }
}

/// `name@ρ` with ρ as written in the grid.
pub fn at_rho(name: &str, rho: f32) -> String {
    format!("{name}@{rho}")
}

/// Stage 1's cells: `d{D}/bp` and `d{D}/he` for every depth, with per-epoch curves.
pub fn calibration_cells(cfg: &StudyConfig) -> Vec<Cell> {
    let mut cells = Vec::new();
    for &d in &cfg.depths {
        for (arm, init) in [("bp", InitVariant::Default), ("he", InitVariant::He)] {
            let mut c = Cell::plain(
                &format!("d{d}/{arm}"),
                d,
                cfg.calibration_epochs,
                &cfg.calibration_seeds,
            );
            c.init = init;
            c.curve = true;
            cells.push(c);
        }
    }
    cells
}

/// The plain-lr controls of stage 2, in the pre-registered order.
pub const CONTROLS: [&str; 4] = ["lr1.5", "lr2", "lr3", "warmup"];

/// Stage 2's cells in regime (depth, epochs).
pub fn ceiling_cells(cfg: &StudyConfig, depth: usize, epochs: usize) -> Vec<Cell> {
    let seeds = &cfg.ceiling_seeds;
    let with_init = |name: &str, init| {
        let mut c = Cell::plain(name, depth, epochs, seeds);
        c.init = init;
        c
    };
    let mut cells = vec![
        with_init("bp", InitVariant::Default),
        with_init("he", InitVariant::He),
        with_init("he_w1", InitVariant::HeW1),
        with_init("he_rest", InitVariant::HeRest),
        with_init("scaled", InitVariant::ScaledToHe),
    ];
    for (name, m) in [("lr1.5", 1.5f32), ("lr2", 2.0), ("lr3", 3.0)] {
        let mut c = Cell::plain(name, depth, epochs, seeds);
        c.schedule = Schedule::Constant(m);
        cells.push(c);
    }
    let mut w = Cell::plain("warmup", depth, epochs, seeds);
    w.schedule = Schedule::WarmupFirstEpoch { boost: 1.0 };
    cells.push(w);
    for (name, layers) in [
        ("oracle_w1", LayerSet::First),
        ("oracle_all", LayerSet::All),
    ] {
        for &rho in &cfg.rho {
            let mut c = Cell::plain(&at_rho(name, rho), depth, epochs, seeds);
            c.eval = CellEval::Oracle { layers, rho };
            cells.push(c);
        }
    }
    cells
}

/// Stage 3's cells: `bp`, `he`, the plain-lr controls (so `mult` can be paired with the best
/// control on the same seeds), then every (variant, ρ).
pub fn variant_cells(cfg: &StudyConfig, depth: usize, epochs: usize) -> Vec<Cell> {
    let seeds = &cfg.variant_seeds;
    let mut he = Cell::plain("he", depth, epochs, seeds);
    he.init = InitVariant::He;
    let mut cells = vec![Cell::plain("bp", depth, epochs, seeds), he];
    cells.extend(
        ceiling_cells(cfg, depth, epochs)
            .into_iter()
            .filter(|c| CONTROLS.contains(&c.name.as_str()))
            .map(|mut c| {
                c.seeds = seeds.clone();
                c
            }),
    );
    for v in Variant::ALL {
        for (i, &rho) in cfg.rho.iter().enumerate() {
            let mut c = Cell::plain(&at_rho(v.name(), rho), depth, epochs, seeds);
            c.eval = CellEval::Enn {
                variant: v,
                rho_index: i,
                rho,
            };
            c.enn_seeds = cfg.variant_enn_seeds.clone();
            cells.push(c);
        }
    }
    cells
}

/// Stage 4's cells: bp, l1, he, the control (a copy of stage 2's cell, named
/// `control:<name>`), and gi (a copy of stage 3's cell with the fresh ENN seeds, named
/// `gi:<name>`).
pub fn confirmation_cells(
    cfg: &StudyConfig,
    depth: usize,
    epochs: usize,
    control: &Cell,
    selected: &Cell,
) -> Vec<Cell> {
    let seeds = &cfg.confirm_seeds;
    let mut l1 = Cell::plain("l1", depth, epochs, seeds);
    l1.l1 = cfg.l1;
    let mut he = Cell::plain("he", depth, epochs, seeds);
    he.init = InitVariant::He;
    let mut c = control.clone();
    c.name = format!("control:{}", control.name);
    c.seeds = seeds.clone();
    let mut gi = selected.clone();
    gi.name = format!("gi:{}", selected.name);
    gi.seeds = seeds.clone();
    gi.enn_seeds = cfg.confirm_enn_seeds.clone();
    vec![Cell::plain("bp", depth, epochs, seeds), l1, he, c, gi]
}
