// Package history records what the clients of a key-value store saw,
// operation by operation, and checks the record for linearizability.
//
// What flows through it, in order:
//
//  1. Recording. Clients (the scenarios' history workload) take a call
//     time from Recorder.Now before sending a get, put or compare-and-set
//     and hand the Input and the Output they got to Recorder.Add. A write
//     whose outcome the client cannot know (a timeout, a reset connection,
//     a 5xx that does not say it refused the write) is Ambiguous: it may
//     have been applied at any time after its call, so its return is left
//     open (porcupine's convention, as in etcd's robustness tests). A read
//     that failed changed nothing and is not recorded.
//  2. Checking. Recorder.Check runs porcupine on the history, partitioned
//     by key, against a model of a versioned register per key: a get sees
//     the last value and its version (a state whose version is unknown
//     after an ambiguous write learns it from the next answer that names
//     it), a put sets both, a compare-and-set succeeds
//     only when the version it expects is the current one and otherwise
//     reports the current version. The verdict is Linearizable, Violation,
//     or Unknown when the check ran out of time. On a violation, porcupine's
//     HTML visualisation of the longest linearizable prefixes is written to
//     the path given.
//
// It imports nothing of odbench; scenarios drive it and record its Result
// in the results file.
package history
