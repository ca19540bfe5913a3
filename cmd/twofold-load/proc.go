package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// procStats is a process's CPU time so far and resident set size.
type procStats struct {
	user, sys time.Duration
	rss       uint64 // bytes
}

func (p procStats) cpu() time.Duration { return p.user + p.sys }

// userHZ is the unit of utime and stime in /proc/PID/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const userHZ = 100

// readProc reads /proc/PID/stat (utime, stime) and /proc/PID/status (VmRSS).
func readProc(pid int) (procStats, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procStats{}, err
	}
	// The command name (field 2) may hold spaces; fields after its ")" are fixed.
	rest := string(stat[strings.LastIndexByte(string(stat), ')')+1:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return procStats{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return procStats{}, fmt.Errorf("unexpected /proc/%d/stat", pid)
	}
	rss, err := statusKiB(pid, "VmRSS:")
	if err != nil {
		return procStats{}, err
	}
	return procStats{user: time.Duration(utime) * time.Second / userHZ, sys: time.Duration(stime) * time.Second / userHZ, rss: rss * 1024}, nil
}

func statusKiB(pid int, field string) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field); ok {
			return strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/status", field, pid)
}

// rssSampler records the largest RSS a process had during a run.
type rssSampler struct {
	done chan struct{}
	wg   sync.WaitGroup
	peak uint64
}

func sampleRSS(pid int, every time.Duration) *rssSampler {
	s := &rssSampler{done: make(chan struct{})}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if p, err := readProc(pid); err == nil {
				s.peak = max(s.peak, p.rss)
			}
			select {
			case <-s.done:
				return
			case <-t.C:
			}
		}
	}()
	return s
}

// stop ends sampling and returns the peak RSS in bytes.
func (s *rssSampler) stop() uint64 {
	close(s.done)
	s.wg.Wait()
	return s.peak
}
