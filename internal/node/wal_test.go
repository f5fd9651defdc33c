package node

import (
	"testing"

	"github.com/hashicorp/raft"
)

// A follower that loses a vote clears its log's last entry (raft deletes
// the suffix) and is later killed. raft-wal before v0.4.1 sealed the tail
// segment without its index on that delete, and the restarted node
// panicked in raft.NewRaft ("sealed segment has no index block"): the
// leader_failure scenario hit it under load. Every entry must read back
// after a reopen.
func TestLogSurvivesATruncatedTail(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir, cfg.Fsync = t.TempDir(), true
	s, err := openRaftStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	logs := func(term uint64, from, to int) []*raft.Log {
		var out []*raft.Log
		for i := from; i <= to; i++ {
			out = append(out, &raft.Log{Index: uint64(i), Term: term, Type: raft.LogCommand, Data: []byte("x")})
		}
		return out
	}
	if err := s.StoreLogs(logs(1, 1, 10)); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteRange(10, 10); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLogs(logs(2, 10, 12)); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = openRaftStore(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	last, _ := s.LastIndex()
	if last != 12 {
		t.Errorf("last index after the reopen = %d, want 12", last)
	}
	for i := uint64(1); i <= last; i++ {
		var l raft.Log
		if err := s.GetLog(i, &l); err != nil {
			t.Fatalf("entry %d after the reopen: %v", i, err)
		}
		if want := uint64(1 + i/10); l.Term != want {
			t.Errorf("entry %d has term %d, want %d", i, l.Term, want)
		}
	}
}
