//! Eligibility: screening input parsed into domain values, evaluated against a protocol's
//! criteria (pure: no I/O).

mod evaluate;
mod input;

pub use evaluate::{evaluate, CriterionResult, CriterionStatus, Evaluation, Outcome};
pub use input::{
    FieldError, InputError, RawAttestations, RawLabs, RawMeasure, RawScreening, RawUlnMeasure,
    ScreeningInput, Sex, UlnValue,
};
// The protocol's vocabulary, as screening input uses it.
pub use crate::protocol::{
    Attestation, CountLab, Dipstick, PatientRef, PatientRefError, PatientRefPattern, UlnLab,
    DEFAULT_PATIENT_REF_PATTERN, MAX_PATTERN_LEN, MAX_REF_LEN,
};
