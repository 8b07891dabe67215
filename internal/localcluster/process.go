/*
Copyright The Firescope Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package localcluster

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// process is a child process whose output goes to a log file in Dir.
type process struct {
	name, log string
	cmd       *exec.Cmd
	// exited is closed when the process ends; err then says how.
	exited chan struct{}
	err    error
}

// startProcess runs bin with args and env added to ours, its output appended to logPath.
func startProcess(name, logPath, bin string, args, env []string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// It must not outlive us, even if we are killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	p := &process{name: name, log: logPath, cmd: cmd, exited: make(chan struct{})}
	go func() { p.err = cmd.Wait(); logFile.Close(); close(p.exited) }()
	return p, nil
}

// waitReady polls url with hc until it answers 200 OK, and fails if the process exits first
// or two minutes pass, with the end of its log.
func (p *process) waitReady(ctx context.Context, hc *http.Client, url string) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		if err := probe(ctx, hc, url); err == nil {
			return nil
		}
		select {
		case <-p.exited:
			if p.err == nil {
				return fmt.Errorf("%s exited with status 0 before it was ready; see %s:\n%s", p.name, p.log, tail(p.log))
			}
			return fmt.Errorf("%s exited before it was ready (%w); see %s:\n%s", p.name, p.err, p.log, tail(p.log))
		case <-ctx.Done():
			return fmt.Errorf("%s was not ready within two minutes; see %s:\n%s", p.name, p.log, tail(p.log))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// stop asks the process to stop and kills it after ten seconds. Stopping a process that has
// ended does nothing.
func (p *process) stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(10 * time.Second):
		p.kill()
	}
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *process) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// tail returns the last lines of a log, for error messages.
func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
