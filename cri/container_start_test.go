package cri

import (
	"errors"
	"os"
	"testing"

	"github.com/cria-runtime/cria/cri/store"
)

func TestRecordProcessesNeedsStartTimes(t *testing.T) {
	starts := map[int]uint64{10: 1000, 20: 2000}
	startOf := func(pid int) (uint64, error) {
		if s, ok := starts[pid]; ok {
			return s, nil
		}
		return 0, os.ErrProcessDone
	}
	for _, tc := range []struct {
		name         string
		monPid, pid  int
		wantErr      bool
		wantMonStart uint64
		wantPidStart uint64
	}{
		{name: "both readable", monPid: 10, pid: 20, wantMonStart: 1000, wantPidStart: 2000},
		{name: "monitor's unreadable", monPid: 11, pid: 20, wantErr: true},
		{name: "init's unreadable", monPid: 10, pid: 21, wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &store.Container{}
			err := recordProcesses(c, tc.monPid, tc.pid, startOf)
			if tc.wantErr {
				if !errors.Is(err, os.ErrProcessDone) {
					t.Errorf("err = %v, want the start time's error", err)
				}
				return
			}
			if err != nil || c.MonitorStart != tc.wantMonStart || c.PidStart != tc.wantPidStart || c.MonitorPid != tc.monPid || c.Pid != tc.pid {
				t.Errorf("record %+v, err %v", c, err)
			}
		})
	}
}
