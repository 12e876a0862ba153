package redistest

import (
	"os/exec"
	"runtime"
	"sync"
	"syscall"
)

// spawner starts the servers from one goroutine locked to its OS thread
// for good: Linux sends a child its parent-death signal when the thread
// that started it ends, and this thread ends only with the test binary.
var spawner struct {
	once sync.Once
	reqs chan spawn
}

type spawn struct {
	cmd  *exec.Cmd
	done chan error
}

// startProcess starts cmd so that it is killed when the test binary exits,
// however it exits: a test binary killed by -timeout runs no cleanup.
func startProcess(cmd *exec.Cmd) error {
	spawner.once.Do(func() {
		spawner.reqs = make(chan spawn)
		go func() {
			runtime.LockOSThread()
			for r := range spawner.reqs {
				r.done <- r.cmd.Start()
			}
		}()
	})
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	r := spawn{cmd: cmd, done: make(chan error)}
	spawner.reqs <- r
	return <-r.done
}

// processGone reports whether no process has the pid.
func processGone(pid int) bool { return syscall.Kill(pid, 0) == syscall.ESRCH }
