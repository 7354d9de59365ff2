//! Rows for `virtual_keys:` and the policy each key carries.

use super::*;

/// One virtual key `a` with the given extra fields.
fn vk(fields: &str) -> String {
    format!("virtual_keys:\n  - {{ name: a, value: v-a{fields} }}\n")
}

#[test]
fn virtual_key_rows() {
    check(vec![
        row(Error, "virtual_keys: [ { name: \" \", value: v } ]\n", "virtual key name is empty", 1, 25),
        row(
            Error,
            "virtual_keys:\n  - { name: a, value: v1 }\n  - { name: a, value: v2 }\n",
            "virtual key name `a` is used twice",
            3,
            13,
        ),
        row(
            Error,
            "virtual_keys:\n  - { name: a, value: v1 }\n  - { name: b, value: v1 }\n",
            "virtual key `b` has the same value as another",
            3,
            23,
        ),
        row(Error, "virtual_keys: [ { name: a, value: \"\" } ]\n", "virtual key `a` is empty", 1, 35),
        row(
            CheckError,
            "virtual_keys: [ { name: a, value: env.UNSET } ]\n",
            "virtual key `a`: environment variable UNSET is not set",
            1,
            35,
        ),
        row(
            Warning,
            "virtual_keys: [ { name: a, value: env.UNSET } ]\n",
            "virtual key `a`: environment variable UNSET is not set; it is disabled",
            1,
            35,
        ),
        row(
            Error,
            vk(", providers: [openai, bedrock]"),
            "virtual key `a`: unknown provider `bedrock` (openai, anthropic, azure, gemini, vertex)",
            2,
            48,
        ),
        row(Error, vk(", methods: [\"GE T\"]"), "virtual key `a`: invalid method `GE T`", 2, 38),
        row(Error, vk(", paths: [\"/v1/(\"]"), "virtual key `a`: invalid path pattern: ", 2, 36),
        // Valid alone, but its `#` comments out the anchoring's `)$`.
        row(Error, vk(", paths: [\"(?x)/v1#\"]"), "virtual key `a`: regex parse error", 2, 35),
        row(
            Error,
            vk(", requests_per_minute: 0"),
            "virtual key `a`: requests_per_minute must be at least 1",
            2,
            49,
        ),
        row(
            Error,
            vk(", max_concurrent: 0"),
            "virtual key `a`: max_concurrent must be at least 1",
            2,
            44,
        ),
    ]);
}
