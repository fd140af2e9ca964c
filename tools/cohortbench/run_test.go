package cohortbench

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// TestProcCPUSeconds: this process's CPU time, kept busy, grows by 0.2 s
// within a few seconds and by no more than its cores could give in the
// time it took; a process that cannot be read has none (-1).
func TestProcCPUSeconds(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("/proc/PID/stat is Linux's")
	}
	before := procCPUSeconds(os.Getpid())
	if before < 0 {
		t.Fatalf("this process's CPU time: %v", before)
	}
	start := time.Now()
	used := 0.0
	for used < 0.2 {
		if time.Since(start) > 20*time.Second {
			t.Fatalf("busy for %v, the CPU time grew by %.2f s", time.Since(start), used)
		}
		for spin := time.Now(); time.Since(spin) < 10*time.Millisecond; {
		}
		used = procCPUSeconds(os.Getpid()) - before
	}
	// The kernel counts in ticks of 10 ms: one more than the cores could
	// give at most.
	if wall := time.Since(start).Seconds(); used > wall*float64(runtime.NumCPU())+0.01 {
		t.Errorf("%.2f s of CPU in %.2f s on %d cores", used, wall, runtime.NumCPU())
	}
	for _, pid := range []int{0, -1, 1 << 30} {
		if got := procCPUSeconds(pid); got != -1 {
			t.Errorf("procCPUSeconds(%d) = %v, want -1", pid, got)
		}
	}
}
