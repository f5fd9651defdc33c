// Package cli is odbench's command line: cmd/odbench's main calls Main,
// and so does odbench.Main in a program that compiles its own scenarios in.
//
// What flows through it, in order:
//
//  1. Main gets the arguments; it installs the Ctrl-C handling (the first
//     cancels the context, the second exits at once), runs the cobra
//     command tree and turns the error into the exit code it carries
//     (exit.go: 0 ok, 1 failed or regressed, 2 usage, 3 unreachable, 130
//     interrupted). Nothing else below cmd/ exits or reads Viper.
//  2. Each command lives in its own file. run, compare, report and monitor
//     load the configuration with loadConfig (defaults < profile < file <
//     ODBENCH_* < flags, unknown keys with file:line), apply their flags
//     and validate everything at once.
//  3. run builds the cluster driver (local, exec, external) and hands the
//     plan to internal/runner, drawing progress as bars on a terminal or
//     lines elsewhere, then prints the summary table and, on request,
//     archives the run and compares it with a baseline.
//  4. compare, report, archive and merge read results files (or the newest
//     in a directory) and use internal/report and internal/metrics; node
//     runs internal/node; monitor serves internal/monitor.
//  5. LoadConfig and NewRunner give the public package odbench the same
//     configuration and drivers the commands use.
package cli
