//! Eligibility: screening input parsed into domain values, evaluated against a protocol's
//! criteria (pure: no I/O).

mod evaluate;
mod input;
mod patient_ref;

pub use evaluate::{evaluate, CriterionResult, CriterionStatus, Evaluation, Outcome};
pub use input::{
    Attestation, CountLab, Dipstick, FieldError, InputError, RawScreening, ScreeningInput, Sex,
    UlnLab, UlnValue,
};
pub use patient_ref::{
    PatientRef, PatientRefError, PatientRefPattern, DEFAULT_PATIENT_REF_PATTERN, MAX_PATTERN_LEN,
    MAX_REF_LEN,
};
