// How commands are written into the Raft log: the KV ones, the write path
// benchmarks hammer, in a compact binary form (no reflection, no base64);
// every other command as JSON. The first byte tells them apart: a JSON
// command starts with '{'.

package node

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// kvTag starts a binary KV command.
const kvTag byte = 0x01

// The binary ops.
var kvOps = map[string]byte{opPut: 'p', opDelete: 'd', opCAS: 'c'}

// encodeCommand writes c for the log: tag, op, expect_version (uvarint),
// key length (uvarint), key, value for a KV command; JSON otherwise.
func encodeCommand(c Command) ([]byte, error) {
	op, ok := kvOps[c.Op]
	if !ok {
		return json.Marshal(c)
	}
	b := appendKVHead(make([]byte, 0, kvHeadMax+len(c.Key)+len(c.Value)), op, c.ExpectVersion, c.Key)
	return append(b, c.Value...), nil
}

// kvHeadMax bounds a binary KV command's head, its key aside.
const kvHeadMax = 2 + 2*binary.MaxVarintLen64

// appendKVHead appends everything of a binary KV command but its value.
func appendKVHead(b []byte, op byte, expect uint64, key string) []byte {
	b = append(b, kvTag, op)
	b = binary.AppendUvarint(b, expect)
	b = binary.AppendUvarint(b, uint64(len(key)))
	return append(b, key...)
}

// encodePut encodes a put of key whose value is the rest of body, read
// straight into the command (size is its length, -1 when unknown): the
// value needs no buffer of its own.
func encodePut(key string, body io.Reader, size int64) ([]byte, error) {
	if size < 0 {
		v, err := io.ReadAll(body)
		if err != nil {
			return nil, err
		}
		return encodeCommand(Command{Op: opPut, Key: key, Value: v})
	}
	b := appendKVHead(make([]byte, 0, kvHeadMax+len(key)+int(size)), kvOps[opPut], 0, key)
	head := len(b)
	b = b[:head+int(size)]
	_, err := io.ReadFull(body, b[head:])
	return b, err
}

// isPut tells an encoded put by its first two bytes.
func isPut(data []byte) bool {
	return len(data) >= 2 && data[0] == kvTag && data[1] == kvOps[opPut]
}

var errShortCommand = errors.New("a binary command ends early")

// kvHead is a binary KV command's head as parsed, its key and value still
// in the encoded bytes.
type kvHead struct {
	op         string
	expect     uint64
	key, value []byte
}

// parseKVHead reads a binary KV command without copying it.
func parseKVHead(data []byte) (kvHead, error) {
	var h kvHead
	if len(data) < 2 {
		return h, errShortCommand
	}
	for name, code := range kvOps {
		if code == data[1] {
			h.op = name
		}
	}
	if h.op == "" {
		return h, fmt.Errorf("unknown binary op %q", data[1])
	}
	rest := data[2:]
	expect, n := binary.Uvarint(rest)
	if n <= 0 {
		return h, errShortCommand
	}
	rest = rest[n:]
	klen, n := binary.Uvarint(rest)
	if n <= 0 || uint64(len(rest)-n) < klen {
		return h, errShortCommand
	}
	rest = rest[n:]
	h.expect, h.key, h.value = expect, rest[:klen], rest[klen:]
	return h, nil
}

// decodeCommand reads what encodeCommand wrote.
func decodeCommand(data []byte) (Command, error) {
	var c Command
	if len(data) == 0 || data[0] != kvTag {
		err := json.Unmarshal(data, &c)
		return c, err
	}
	h, err := parseKVHead(data)
	if err != nil {
		return c, err
	}
	c.Op, c.ExpectVersion, c.Key = h.op, h.expect, string(h.key)
	if len(h.value) > 0 {
		c.Value = append([]byte(nil), h.value...) // the FSM keeps it; the log's buffer is not ours
	}
	return c, nil
}

// checkEncoded refuses an encoded command the FSM would refuse, before it
// reaches the log: a forwarded command is checked here, on the leader,
// not after every node has stored it. A binary KV command's head is read
// in place (the write path stays free of copies); a JSON one is decoded.
func checkEncoded(data []byte) error {
	if len(data) > 0 && data[0] == kvTag {
		h, err := parseKVHead(data)
		if err != nil {
			return fmt.Errorf("%w: %v", errBadCommand, err)
		}
		if len(h.key) == 0 {
			return fmt.Errorf("%w: op %q needs key", errBadCommand, h.op)
		}
		return nil
	}
	c, err := decodeCommand(data)
	if err != nil {
		return fmt.Errorf("%w: %v", errBadCommand, err)
	}
	return c.validate()
}
