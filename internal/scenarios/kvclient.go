package scenarios

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/odbench/odbench/internal/load"
	"github.com/odbench/odbench/internal/target"
)

// exchanger sends a rendered call and hands the answer, whatever its
// status, to read (the answer is only valid during the call); its own
// errors are failures to get an answer at all.
type exchanger interface {
	exchange(ctx context.Context, call target.Call, read func(*target.Answer) error) error
}

// fastExchanger sends through the load engine's client (fasthttp).
type fastExchanger struct{ c *load.FastClient }

func (f fastExchanger) exchange(ctx context.Context, call target.Call, read func(*target.Answer) error) error {
	return f.c.Send(ctx, call.Method, call.URL, call.Headers, call.Body, func(code int, header func(string) string, body []byte) error {
		return read(&target.Answer{Code: code, Header: header, Body: body})
	})
}

// httpExchanger sends through net/http (the history workload: its errors
// tell a connection refused, a request never sent, from one cut short).
type httpExchanger struct{ c *http.Client }

func (h httpExchanger) exchange(ctx context.Context, call target.Call, read func(*target.Answer) error) error {
	req, err := http.NewRequestWithContext(ctx, call.Method, call.URL, bytes.NewReader(call.Body))
	if err != nil {
		return err
	}
	for k, v := range call.Headers {
		req.Header.Set(k, v)
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	return read(&target.Answer{Code: resp.StatusCode, Header: resp.Header.Get, Body: body})
}

// kvClient drives a target's key-value store the way its profile spells
// it.
type kvClient struct {
	kv *target.KV
	x  exchanger
}

// errNoKV: the profile has no kv section.
var errNoKV = errors.New("the target profile has no kv section")

func newKV(p *target.Profile, x exchanger) (*kvClient, error) {
	if p == nil || p.KV == nil {
		return nil, errNoKV
	}
	return &kvClient{kv: p.KV, x: x}, nil
}

// kvError is an answer of the target that is not a success: its status,
// and whether it says the write never reached the log.
type kvError struct {
	*load.StatusError
	NotApplied bool
}

func (e *kvError) Unwrap() error { return e.StatusError }

// do renders op for the member at base and hands its answer to read.
func (k *kvClient) do(ctx context.Context, op *target.KVOp, base string, v target.Vars, read func(*target.Answer) error) error {
	call, err := op.Render(base, v)
	if err != nil {
		return err
	}
	return k.x.exchange(ctx, call, read)
}

func failure(op *target.KVOp, a *target.Answer) error {
	return &kvError{StatusError: load.StatusErrorOf(a.Code, a.Header, a.Body), NotApplied: op.IsNotApplied(a)}
}

// Put writes value at key through the member at base and returns the
// version written.
func (k *kvClient) Put(ctx context.Context, base, key string, value []byte) (version uint64, err error) {
	op := &k.kv.Put
	err = k.do(ctx, op, base, target.Vars{Key: key, Value: string(value)}, func(a *target.Answer) error {
		if a.Code/100 != 2 {
			return failure(op, a)
		}
		var err error
		if version, err = op.Written(a); err != nil {
			return fmt.Errorf("%s: %w", op.Describe(), err)
		}
		return nil
	})
	return version, err
}

// getOp is the profile's linearizable get, or its stale one.
func (k *kvClient) getOp(stale bool) (*target.KVOp, error) {
	if !stale {
		return &k.kv.Get, nil
	}
	if k.kv.StaleGet == nil {
		return nil, errors.New("the target profile has no kv.stale_get")
	}
	return k.kv.StaleGet, nil
}

// Get reads key through the member at base: its value and version, or
// found false.
func (k *kvClient) Get(ctx context.Context, base, key string, stale bool) (value string, version uint64, found bool, err error) {
	op, err := k.getOp(stale)
	if err != nil {
		return "", 0, false, err
	}
	err = k.do(ctx, op, base, target.Vars{Key: key}, func(a *target.Answer) error {
		if a.Code/100 != 2 && !op.IsNotFound(a) {
			return failure(op, a)
		}
		var err error
		if value, version, found, err = op.Read(a); err != nil {
			return fmt.Errorf("%s: %w", op.Describe(), err)
		}
		return nil
	})
	return value, version, found, err
}

// CAS writes value at key if its version is expect (0: it does not
// exist): the version written, or conflict and the version in place.
func (k *kvClient) CAS(ctx context.Context, base, key string, expect uint64, value []byte) (version uint64, conflict bool, err error) {
	op := k.kv.CAS
	if op == nil {
		return 0, false, errors.New("the target profile has no kv.cas")
	}
	err = k.do(ctx, op, base, target.Vars{Key: key, Value: string(value), Expect: expect}, func(a *target.Answer) error {
		if a.Code/100 != 2 && !op.IsConflict(a) {
			return failure(op, a)
		}
		var err error
		if version, conflict, err = op.Compared(a); err != nil {
			return fmt.Errorf("%s: %w", op.Describe(), err)
		}
		return nil
	})
	return version, conflict, err
}

// Delete removes key through the member at base; a missing key is no
// error.
func (k *kvClient) Delete(ctx context.Context, base, key string) error {
	op := &k.kv.Delete
	return k.do(ctx, op, base, target.Vars{Key: key}, func(a *target.Answer) error {
		if a.Code/100 != 2 && a.Code != http.StatusNotFound {
			return failure(op, a)
		}
		return nil
	})
}

// refused reports whether err is an answer saying the write never
// reached the log, or a refusal of the request (4xx but 408): it changed
// nothing.
func refused(err error) bool {
	var ke *kvError
	if !errors.As(err, &ke) {
		return false
	}
	return ke.NotApplied || (ke.Code >= 400 && ke.Code < 500 && ke.Code != http.StatusRequestTimeout)
}

// isAnswer reports whether err is an answer of the target (a kvError or
// a malformed answer), not a failure to get one.
func isAnswer(err error) bool {
	var ke *kvError
	return errors.As(err, &ke)
}
