package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// profile starts, with -pprof, a CPU profile and an execution trace of the
// server covering the first -pprof-seconds of a phase, written to
// -pprof-dir; the returned function waits for both. The start of a sale is
// where latency is lost, and only a profile taken while it happens shows why.
func profile(o options, phase string, stdout io.Writer) (wait func()) {
	if o.Pprof == "" {
		return func() {}
	}
	var wg sync.WaitGroup
	secs := fmt.Sprintf("%g", o.PprofSeconds)
	for kind, file := range map[string]string{"profile": phase + ".cpu.pprof", "trace": phase + ".trace"} {
		path := filepath.Join(o.PprofDir, file)
		wg.Go(func() {
			if err := fetchTo(strings.TrimRight(o.Pprof, "/")+"/debug/pprof/"+kind+"?seconds="+secs, path); err != nil {
				fmt.Fprintf(stdout, "pprof: %s: %v\n", kind, err)
				return
			}
			fmt.Fprintf(stdout, "pprof: %s of the first %s s of the %s phase in %s\n", kind, secs, phase, path)
		})
	}
	return wg.Wait
}

func fetchTo(url, path string) error {
	resp, err := (&http.Client{Timeout: time.Minute}).Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
