// One member of a started cluster: rendering its command from the
// profile, starting it (in its own cgroup when odbench shapes its
// network), and waiting until it is up.

package cluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"sync"
	"time"

	"github.com/odbench/odbench/internal/target"
)

// renderAll renders each template of texts with v.
func renderAll(field string, texts []string, v any) ([]string, error) {
	out := make([]string, len(texts))
	for i, text := range texts {
		t, err := target.ParseTemplate(fmt.Sprintf("%s[%d]", field, i), text)
		if err != nil {
			return nil, err
		}
		if out[i], err = t.Render(v); err != nil {
			return nil, fmt.Errorf("%s[%d]: %v", field, i, err)
		}
	}
	return out, nil
}

// varsOf returns member p's template variables as of now (what member 1
// printed so far included).
func (c *startedCluster) varsOf(p *proc, restart bool) target.MemberVars {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := *c.vars[p.id]
	v.Restart = restart
	if restart {
		v.Via = target.Member{}
		for _, other := range c.procs {
			if other != p && other.running() {
				v.Via = c.vars[other.id].Member
				break
			}
		}
	}
	v.Captured = map[string]string{}
	for k, val := range c.captured {
		v.Captured[k] = val
	}
	return v
}

// spawn renders p's command, starts it and waits until it is up (and, for
// member 1 when the profile captures values, until each was printed).
func (c *startedCluster) spawn(ctx context.Context, p *proc, restart bool) error {
	opt := c.drv.opt
	s := opt.Profile.Start
	v := c.varsOf(p, restart)
	argv, err := renderAll("start.command", s.Command, v)
	if err != nil {
		return fmt.Errorf("member %s: %v", p.id, err)
	}
	if opt.Binary != "" {
		argv[0] = opt.Binary
	}
	argv = append(argv, opt.ExtraArgs...)
	var env []string
	for k, text := range s.Env {
		val, err := renderAll("start.env."+k, []string{text}, v)
		if err != nil {
			return fmt.Errorf("member %s: %v", p.id, err)
		}
		env = append(env, k+"="+val[0])
	}
	sort.Strings(env)
	if err := os.MkdirAll(p.dataDir, 0o755); err != nil {
		return err
	}
	if s.ConfigFile != "" {
		text, err := renderAll("start.config_template", []string{s.ConfigTemplate}, v)
		if err != nil {
			return fmt.Errorf("member %s: %v", p.id, err)
		}
		if err := os.WriteFile(filepath.Join(p.dataDir, s.ConfigFile), []byte(text[0]), 0o644); err != nil {
			return err
		}
	}
	var readyRe *regexp.Regexp
	if s.NodeReady.Log != "" {
		readyRe = regexp.MustCompile(s.NodeReady.Log) // validated
	}
	capture := map[string]*regexp.Regexp{}
	if p == c.procs[0] && !restart {
		for name, pat := range s.Capture {
			capture[name] = regexp.MustCompile(pat) // validated
		}
	}
	readyLine, captured := make(chan struct{}), make(chan struct{})
	var readyOnce, capOnce sync.Once
	if len(capture) == 0 {
		capOnce.Do(func() { close(captured) })
	}
	onLine := func(line string, _ bool) bool {
		if readyRe != nil && readyRe.MatchString(line) {
			readyOnce.Do(func() { close(readyLine) })
		}
		if len(capture) > 0 {
			c.mu.Lock()
			for name, re := range capture {
				if m := re.FindStringSubmatch(line); m != nil {
					c.captured[name] = m[re.SubexpIndex(name)]
				}
			}
			done := len(c.captured) >= len(capture)
			c.mu.Unlock()
			if done {
				capOnce.Do(func() { close(captured) })
			}
		}
		return false
	}
	cgroup := -1
	if c.net != nil {
		if cgroup, err = c.net.CgroupFD(p.id); err != nil {
			return fmt.Errorf("member %s: its cgroup: %v", p.id, err)
		}
	}
	exited, err := c.start(p, argv[0], argv[1:], p.dataDir, env, cgroup, onLine)
	if err != nil {
		return err
	}
	fail := func(what string) error {
		select {
		case <-exited:
			return fmt.Errorf("member %s exited before %s (%s); last log lines:\n%s", p.id, what, p.exitState(), p.lastLines())
		default:
			return fmt.Errorf("member %s: %s: %v; last log lines:\n%s", p.id, what, ctx.Err(), p.lastLines())
		}
	}
	if readyRe != nil {
		select {
		case <-readyLine:
		case <-exited:
			return fail("it printed a line matching start.node_ready.log")
		case <-ctx.Done():
			return fail("no line matched start.node_ready.log")
		}
	}
	if r := s.NodeReady.Request; r != nil {
		node := Node{ID: p.id, API: p.apiURL()}
		err := pollUntil(ctx, 100*time.Millisecond, exited, func() error {
			a, err := c.caller.do(ctx, r, node.API, target.Vars{Member: p.id})
			switch {
			case err != nil:
				return fmt.Errorf("%s never answered (last: %v)", r.Describe(), err)
			case a.Code/100 != 2:
				return fmt.Errorf("%s never answered 2xx (last: HTTP %d)", r.Describe(), a.Code)
			}
			return nil
		})
		if err != nil {
			return fail(err.Error())
		}
	}
	select {
	case <-captured:
	case <-exited:
		return fail("it printed every captured value")
	case <-ctx.Done():
		return fail(fmt.Sprintf("not every start.capture matched (have %v)", c.capturedNames()))
	}
	return nil
}

func (c *startedCluster) capturedNames() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for k := range c.captured {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Restart starts a stopped member again with its ID, directory, ports
// and captured values, and waits until the cluster has formed again.
func (c *startedCluster) Restart(ctx context.Context, id string) error {
	p, err := c.proc(id)
	if err != nil {
		return err
	}
	if p.running() {
		return fmt.Errorf("member %s is running; kill it first", id)
	}
	if err := c.spawn(ctx, p, true); err != nil {
		return err
	}
	return c.waitFormed(ctx, len(c.procs))
}
