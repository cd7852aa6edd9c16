//! The way back: a `Setup` as a layer, then as flags (`to_args`, printed in every generated
//! file's "Regenerate:" header and by the wizard) or as YAML (the wizard's saved answers).
//! Both are derived from `SetupLayer` and its `From<&Setup>`, so a new setting needs no
//! code here.

use serde_yaml::Value;

use super::layer::{FLAG_ORDER, SetupLayer, flag_of};
use super::merge::merge;
use crate::setup::Setup;

/// The flags that give `setup` back through `merge`: each setting of `SetupLayer::from`,
/// left out where leaving it out gives the same setup (it is a default).
pub fn to_args(setup: &Setup, with_out: bool) -> Vec<String> {
    let mut layer = SetupLayer::from(setup);
    if !with_out {
        layer.out = None;
    }
    let mut keys = keys_of(&layer);
    if let Ok(target) = merge(&layer, SetupLayer::default()) {
        for key in FLAG_ORDER {
            let mut trial = keys.clone();
            if trial.remove(key).is_some()
                && merge(&layer_of(&trial), SetupLayer::default())
                    .is_ok_and(|again| again == target)
            {
                keys = trial;
            }
        }
    }
    flags_of(&keys)
}

/// A layer as flags, in `FLAG_ORDER`: each key becomes its flag (`max_upload` →
/// `--max-upload`), `true` the bare flag, `false` `--flag=false`, a list one value
/// joined with commas.
pub fn flags(layer: &SetupLayer) -> Vec<String> {
    flags_of(&keys_of(layer))
}

fn flags_of(keys: &serde_yaml::Mapping) -> Vec<String> {
    let mut args = Vec::new();
    for key in FLAG_ORDER {
        let flag = flag_of(key);
        match keys.get(key) {
            None => {}
            Some(Value::Bool(true)) => args.push(flag),
            Some(Value::Bool(false)) => args.push(format!("{flag}=false")),
            // `workers: {GROUP: [HOST:PORT, …]}`: one `--worker GROUP=HOST:PORT` each
            // (the flag is singular, the key plural: see `flag_of`).
            Some(Value::Mapping(groups)) => {
                for (group, addresses) in groups {
                    let addresses = match addresses {
                        Value::Sequence(items) => items.clone(),
                        one => vec![one.clone()],
                    };
                    for address in &addresses {
                        args.extend([
                            flag.clone(),
                            format!("{}={}", scalar(group), scalar(address)),
                        ]);
                    }
                }
            }
            Some(Value::Sequence(items)) => {
                let items: Vec<String> = items.iter().map(scalar).collect();
                args.extend([flag, items.join(",")]);
            }
            Some(value) => args.extend([flag, scalar(value)]),
        }
    }
    args
}

/// A layer's keys and values as YAML would have them, in field order.
fn keys_of(layer: &SetupLayer) -> serde_yaml::Mapping {
    match serde_yaml::to_value(layer) {
        Ok(Value::Mapping(keys)) => keys,
        other => unreachable!("a layer serializes to a mapping, not {other:?}"),
    }
}

fn layer_of(keys: &serde_yaml::Mapping) -> SetupLayer {
    serde_yaml::from_value(Value::Mapping(keys.clone())).expect("a serialized layer reads back")
}

fn scalar(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        Value::Number(number) => number.to_string(),
        Value::Bool(on) => on.to_string(),
        other => unreachable!("setting values are scalars, not {other:?}"),
    }
}
