// Package config holds odbench's typed configuration: what to run, against
// what, and how to judge the results.
//
// What flows through it, in order:
//
//  1. internal/cli reads defaults (Default), an optional profile and config
//     file, ODBENCH_* environment variables and flags with Viper, and decodes
//     them into a Config. Viper never crosses into this package: it only sees
//     the decoded struct, so everything here is testable without a CLI.
//  2. Keys checks raw keys against the known key paths (KnownKey), so that a
//     typo in a YAML file is an error naming the key and where it was found.
//  3. Validate checks every field at once and returns all problems joined;
//     each message names the field, the value and the rule.
//
// The profiles (quick, ci, full) and the fully commented reference file live in
// the top-level configs directory and are embedded into the binary there.
package config
