// Package target reads target profiles: YAML files that say how to
// start, form, observe, drive and break one kind of distributed system,
// so that one odbench binary benchmarks odbench's own node, etcd, the real
// ollama-distributed, or a system of the user's, with no code of its own.
//
// What flows through it, in order:
//
//  1. Load takes a built-in profile's name (configs/targets/*.yaml,
//     embedded) or a file's path. Parse decodes it strictly (an unknown
//     key is an error at its file:line, naming the keys valid there),
//     lays it over its base profile if it names one, and Validate
//     parses every template and locator, reporting every problem at once.
//  2. The cluster package renders the start section once per member
//     (MemberVars: ID, named ports, every member, member 1, the member to
//     join through, what member 1 printed) and asks the health, ready and
//     status requests.
//  3. Scenarios render requests (Vars: key, value, expected version,
//     name, body) and read answers through Locators: the body, a header,
//     a JSON path, the status code, or a field's absence. KV turns the
//     kv section into puts, gets, compare-and-sets and deletes whose
//     versions the linearizability check orders by; Inference says where
//     the LLM-serving API is and which answers are placeholders.
//
// Files: profile.go (the types, loading, base merging, strict decoding),
// validate.go (the rules), vars.go (template variables and functions),
// request.go (requests, answers, locators), kv.go (the kv section).
package target
