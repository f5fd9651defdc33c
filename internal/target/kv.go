// The key-value section: how to put, read, compare-and-set and delete a
// key, and how to read the answers.

package target

import (
	"fmt"
	"strings"
)

// KV spells the system's key-value operations. A version is the system's
// per-key version of the value (etcd's mod_revision, the reference
// node's log index): the linearizability check expects a compare-and-set
// to compare it.
type KV struct {
	Put      KVOp  `yaml:"put"`
	Get      KVOp  `yaml:"get"`
	StaleGet *KVOp `yaml:"stale_get"`
	CAS      *KVOp `yaml:"cas"`
	Delete   KVOp  `yaml:"delete"`
}

// KVOp is one operation and where its answer says what happened. The
// strings are locators (see Locator).
type KVOp struct {
	Request `yaml:",inline"`
	// Value is where a read's value is ("body", or a JSON path), and
	// ValueEncoding how it is written there: "" or "base64".
	Value         string `yaml:"value"`
	ValueEncoding string `yaml:"value_encoding"`
	// Version is where the version is: of the value read, of the value
	// written, or (CAS, on a conflict) of the value in place.
	Version string `yaml:"version"`
	// NotFound matches an answer saying the key does not exist.
	NotFound string `yaml:"not_found"`
	// Conflict matches a compare-and-set whose comparison failed;
	// ConflictVersion is then where the current version is (absent: the
	// key does not exist, version 0).
	Conflict        string `yaml:"conflict"`
	ConflictVersion string `yaml:"conflict_version"`
	// NotApplied matches an error answer that says the write certainly
	// never reached the log (it need not be counted as possibly applied).
	NotApplied string `yaml:"not_applied"`

	value, version, notFound, conflict, conflictVersion, notApplied Locator
}

func (o *KVOp) compile(field string, needs ...string) []string {
	var errs []string
	c, err := o.Request.compile(field)
	if err != nil {
		errs = append(errs, err.Error())
	}
	o.Request.c = c
	for _, l := range []struct {
		name string
		src  string
		dst  *Locator
	}{{"value", o.Value, &o.value}, {"version", o.Version, &o.version}, {"not_found", o.NotFound, &o.notFound},
		{"conflict", o.Conflict, &o.conflict}, {"conflict_version", o.ConflictVersion, &o.conflictVersion},
		{"not_applied", o.NotApplied, &o.notApplied}} {
		loc, err := ParseLocator(l.src)
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s.%s: %v", field, l.name, err))
		}
		*l.dst = loc
	}
	for _, n := range needs {
		var set bool
		switch n {
		case "value":
			set = o.value.Set()
		case "version":
			set = o.version.Set()
		case "not_found":
			set = o.notFound.Set()
		case "conflict":
			set = o.conflict.Set()
		}
		if !set {
			errs = append(errs, fmt.Sprintf("%s.%s: must be set", field, n))
		}
	}
	if o.ValueEncoding != "" && o.ValueEncoding != "base64" {
		errs = append(errs, fmt.Sprintf("%s.value_encoding: must be empty or base64, but is %q", field, o.ValueEncoding))
	}
	return errs
}

func (kv *KV) compile() []string {
	errs := kv.Put.compile("kv.put", "version")
	errs = append(errs, kv.Get.compile("kv.get", "value", "version", "not_found")...)
	if kv.StaleGet != nil {
		errs = append(errs, kv.StaleGet.compile("kv.stale_get", "value", "version", "not_found")...)
	}
	if kv.CAS != nil {
		errs = append(errs, kv.CAS.compile("kv.cas", "version", "conflict")...)
	}
	errs = append(errs, kv.Delete.compile("kv.delete")...)
	return errs
}

// Written reads a put's or a successful CAS's answer: the version
// written.
func (o *KVOp) Written(a *Answer) (uint64, error) { return o.version.Uint(a) }

// Read reads a get's answer: the key's value and version, or found false.
// The answer must be 2xx, or match NotFound.
func (o *KVOp) Read(a *Answer) (value string, version uint64, found bool, err error) {
	if o.notFound.Outcome(a) {
		return "", 0, false, nil
	}
	raw, ok := o.value.Text(a)
	if !ok {
		return "", 0, false, fmt.Errorf("the answer has no %s", o.value)
	}
	if value, err = decodeValue(raw, o.ValueEncoding); err != nil {
		return "", 0, false, fmt.Errorf("%s: %v", o.value, err)
	}
	version, err = o.version.Uint(a)
	return value, version, true, err
}

// IsNotFound reports whether the answer says the key does not exist.
func (o *KVOp) IsNotFound(a *Answer) bool { return o.notFound.Outcome(a) }

// Compared reads a compare-and-set's answer: the version written, or,
// when the comparison failed, conflict and the version in place.
func (o *KVOp) Compared(a *Answer) (version uint64, conflict bool, err error) {
	if o.conflict.Outcome(a) {
		if !o.conflictVersion.Set() {
			return 0, true, nil
		}
		if _, ok := o.conflictVersion.Text(a); !ok {
			return 0, true, nil // no value in place: the key does not exist
		}
		v, err := o.conflictVersion.Uint(a)
		return v, true, err
	}
	v, err := o.version.Uint(a)
	return v, false, err
}

// IsConflict reports whether a compare-and-set's answer says its
// comparison failed.
func (o *KVOp) IsConflict(a *Answer) bool { return o.conflict.Set() && o.conflict.Outcome(a) }

// IsNotApplied reports whether an error answer says the write never
// reached the log.
func (o *KVOp) IsNotApplied(a *Answer) bool { return o.notApplied.Set() && o.notApplied.Matches(a) }

// IsOK reports whether an answer is a success of the operation: 2xx and,
// for a read, not "not found" unless that is how the system answers a
// missing key with 2xx (then it is still a success, of a missing key).
func IsOK(a *Answer) bool { return a.Code/100 == 2 }

// describeKV names the operations for messages.
func (kv *KV) describe() string {
	ops := []string{"put " + kv.Put.Describe(), "get " + kv.Get.Describe(), "delete " + kv.Delete.Describe()}
	if kv.CAS != nil {
		ops = append(ops, "cas "+kv.CAS.Describe())
	}
	return strings.Join(ops, ", ")
}
