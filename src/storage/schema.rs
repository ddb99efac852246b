//! Diesel schema, portable types only (both migrations directories produce exactly this).

diesel::table! {
    trials (id) {
        id -> Text,
        title -> Text,
        protocol_json -> Text,
        protocol_digest -> Text,
        algorithm -> Text,
        seed_commitment -> Text,
        status -> Text,
        cap -> BigInt,
        created_at -> Timestamp,
        closed_at -> Nullable<Timestamp>,
        close_reason -> Nullable<Text>,
        seed_revealed -> Bool,
        protocol_version -> Integer,
        close_signature -> Nullable<Text>,
    }
}

diesel::table! {
    protocol_versions (trial_id, version) {
        trial_id -> Text,
        version -> Integer,
        protocol_json -> Text,
        protocol_digest -> Text,
        effective_at -> Timestamp,
        reason -> Text,
        amended_by -> Text,
    }
}

diesel::table! {
    users (name) {
        name -> Text,
        role -> Text,
        sites -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        full_name -> Text,
        email -> Nullable<Text>,
        expires_at -> Nullable<Timestamp>,
        last_active_at -> Nullable<Timestamp>,
        password_hash -> Nullable<Text>,
        password_set_at -> Nullable<Timestamp>,
        language -> Nullable<Text>,
    }
}

diesel::table! {
    sites (code) {
        code -> Text,
        name -> Text,
        time_zone -> Text,
        email -> Nullable<Text>,
        created_at -> Timestamp,
        changed_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    tokens (token_hash) {
        token_hash -> Text,
        user_name -> Text,
        created_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        expires_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    screenings (id) {
        id -> Text,
        trial_id -> Text,
        patient_ref -> Text,
        site -> Text,
        outcome -> Text,
        input_json -> Text,
        result_json -> Text,
        screening_date -> Date,
        screened_at -> Timestamp,
        screened_by -> Text,
        audit_seq -> BigInt,
        stratum_key -> Nullable<Text>,
        protocol_version -> Integer,
        corrects -> Nullable<Text>,
        correction_status -> Nullable<Text>,
        correction_reason -> Nullable<Text>,
        idempotency_key -> Nullable<Text>,
        request_fingerprint -> Nullable<Text>,
    }
}

diesel::table! {
    correction_decisions (screening_id) {
        screening_id -> Text,
        trial_id -> Text,
        decision -> Text,
        reason -> Text,
        decided_by -> Text,
        decided_at -> Timestamp,
        audit_seq -> BigInt,
        signature -> Nullable<Text>,
    }
}

diesel::table! {
    deviations (id) {
        id -> Text,
        trial_id -> Text,
        subject_id -> Text,
        kind -> Text,
        screening_id -> Text,
        recorded_at -> Timestamp,
        audit_seq -> BigInt,
    }
}

diesel::table! {
    subjects (id) {
        id -> Text,
        trial_id -> Text,
        sequence -> BigInt,
        screening_id -> Text,
        patient_ref -> Text,
        site -> Text,
        stratum_key -> Text,
        stratum_position -> BigInt,
        arm -> Text,
        randomized_at -> Timestamp,
        randomized_by -> Text,
        status -> Text,
        withdrawn_at -> Nullable<Timestamp>,
        withdrawn_by -> Nullable<Text>,
        withdrawal_reason -> Nullable<Text>,
        audit_seq -> BigInt,
        idempotency_key -> Nullable<Text>,
        request_fingerprint -> Nullable<Text>,
        randomization_signature -> Nullable<Text>,
        withdrawal_signature -> Nullable<Text>,
    }
}

diesel::table! {
    audit_entries (chain, seq) {
        chain -> Text,
        seq -> BigInt,
        at -> Timestamp,
        actor -> Text,
        role -> Text,
        action -> Text,
        record -> Text,
        prev_hash -> Text,
        hash -> Text,
    }
}

diesel::table! {
    audit_heads (chain) {
        chain -> Text,
        seq -> BigInt,
        hash -> Text,
        log_size -> BigInt,
        log_frontier -> Text,
    }
}

diesel::table! {
    merkle_nodes (chain, level, idx) {
        chain -> Text,
        level -> Integer,
        idx -> BigInt,
        hash -> Text,
        nonce -> Nullable<Text>,
        seq -> BigInt,
    }
}

diesel::table! {
    signing_keys (key_id) {
        key_id -> Text,
        public_key -> Text,
        registered_at -> Timestamp,
    }
}

diesel::table! {
    web_sessions (id_hash) {
        id_hash -> Text,
        user_name -> Text,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::joinable!(tokens -> users (user_name));
diesel::joinable!(web_sessions -> users (user_name));
diesel::joinable!(screenings -> trials (trial_id));
diesel::joinable!(subjects -> trials (trial_id));
diesel::joinable!(subjects -> screenings (screening_id));
diesel::joinable!(audit_entries -> audit_heads (chain));

diesel::joinable!(protocol_versions -> trials (trial_id));
diesel::joinable!(correction_decisions -> screenings (screening_id));
diesel::joinable!(deviations -> subjects (subject_id));

diesel::allow_tables_to_appear_in_same_query!(
    merkle_nodes,
    protocol_versions,
    trials,
    users,
    sites,
    tokens,
    screenings,
    subjects,
    audit_entries,
    audit_heads,
    web_sessions,
    correction_decisions,
    deviations,
    signing_keys,
);
