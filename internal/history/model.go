package history

import (
	"fmt"
	"hash/maphash"
	"sort"

	"github.com/anishathalye/porcupine"
)

// register is the state of one key: absent, or a value with its version.
// Version 0 on a present key means unknown: an ambiguous write set it, and
// the next answer that names a version tells which.
type register struct {
	exists  bool
	value   string
	version uint64
}

func (s register) String() string {
	switch {
	case !s.exists:
		return "absent"
	case s.version == 0:
		return fmt.Sprintf("%q@?", s.value)
	}
	return fmt.Sprintf("%q@%d", s.value, s.version)
}

// versionIs reports whether the state's version can be v, and the state
// with its version known to be v.
func (s register) versionIs(v uint64) (register, bool) {
	if s.version != 0 && s.version != v {
		return s, false
	}
	s.version = v
	return s, true
}

// step returns every state the register can be in after in answered out.
func step(s register, in Input, out Output) []register {
	switch in.Kind {
	case Get:
		if !out.Found {
			if s.exists {
				return nil
			}
			return []register{s}
		}
		if !s.exists || s.value != out.Value {
			return nil
		}
		if next, ok := s.versionIs(out.Version); ok {
			return []register{next}
		}
		return nil
	case Put:
		// An ambiguous put that never took effect is the put linearized
		// after everything else, so one next state covers both outcomes.
		return []register{{exists: true, value: in.Value, version: out.Version}}
	case CAS:
		return stepCAS(s, in, out)
	}
	return nil
}

func stepCAS(s register, in Input, out Output) []register {
	written := register{exists: true, value: in.Value, version: out.Version}
	// matches: the state can meet the expectation; mismatches: it can
	// fail it (both when its version is unknown).
	var matches, mismatches bool
	switch {
	case in.Expect == 0:
		matches, mismatches = !s.exists, s.exists
	case !s.exists:
		mismatches = true
	case s.version == 0:
		matches, mismatches = true, true // unknown: either
	default:
		matches, mismatches = s.version == in.Expect, s.version != in.Expect
	}
	switch {
	case out.Ambiguous:
		var next []register
		if matches {
			written.version = 0
			next = append(next, written)
		}
		return append(next, s) // or it did not take effect
	case out.Conflict:
		if !mismatches {
			return nil
		}
		if !s.exists {
			if out.Version != 0 {
				return nil
			}
			return []register{s}
		}
		if next, ok := s.versionIs(out.Version); ok && next.version != in.Expect {
			return []register{next}
		}
		return nil
	default:
		if !matches {
			return nil
		}
		return []register{written}
	}
}

var seed = maphash.MakeSeed()

// Model is the porcupine model of a store of versioned registers, one
// partition per key.
func Model() porcupine.Model {
	nm := porcupine.NondeterministicModel{
		Partition: byKey,
		Init:      func() []any { return []any{register{}} },
		Step: func(state, input, output any) []any {
			next := step(state.(register), input.(Input), output.(Output))
			out := make([]any, len(next))
			for i, s := range next {
				out[i] = s
			}
			return out
		},
		Equal: func(a, b any) bool { return a.(register) == b.(register) },
		Hash: func(state any) uint64 {
			r := state.(register)
			h := maphash.String(seed, r.value) ^ r.version
			if r.exists {
				h ^= 1 << 63
			}
			return h
		},
		DescribeOperation: func(input, output any) string {
			return describe(input.(Input), output.(Output))
		},
		DescribeState: func(state any) string { return state.(register).String() },
	}
	return nm.ToModel()
}

// byKey splits a history into one partition per key, in key order.
func byKey(ops []porcupine.Operation) [][]porcupine.Operation {
	parts := map[string][]porcupine.Operation{}
	for _, op := range ops {
		k := op.Input.(Input).Key
		parts[k] = append(parts[k], op)
	}
	keys := make([]string, 0, len(parts))
	for k := range parts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, parts[k])
	}
	return out
}

func describe(in Input, out Output) string {
	var res string
	switch {
	case out.Ambiguous:
		res = "?"
	case in.Kind == Get && !out.Found:
		res = "absent"
	case in.Kind == Get:
		res = fmt.Sprintf("%q@%d", out.Value, out.Version)
	case out.Conflict:
		res = fmt.Sprintf("conflict, now @%d", out.Version)
	default:
		res = fmt.Sprintf("ok @%d", out.Version)
	}
	switch in.Kind {
	case Get:
		return fmt.Sprintf("get(%s) → %s", in.Key, res)
	case Put:
		return fmt.Sprintf("put(%s, %q) → %s", in.Key, in.Value, res)
	}
	return fmt.Sprintf("cas(%s, @%d, %q) → %s", in.Key, in.Expect, in.Value, res)
}
