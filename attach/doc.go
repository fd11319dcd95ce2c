// Package attach owns the monitor's interactive plumbing (§7, §8, §9):
// the attach socket that engines connect to, the fan-out of container output
// to every attach client, the fan-in of client input to the container's stdin,
// the console socket through which the runtime hands over the pty master, and
// the ctl / winsz FIFOs that carry resize and log-reopen requests.
//
// The attach protocol across processes:
//
//	engine (podman, CRI-O)           shim monitor (this package)               container
//	──────────────────────           ───────────────────────────               ─────────
//	                                 Listen: <bundle>/attach, SOCK_SEQPACKET
//	                                 (CRI-O path: <socket-dir>/<cuuid> → <bundle>)
//	attach client ──connect───────▶  accept loop ─▶ client{reader, writer}
//	  │ input datagrams ≤ 32 KiB ──▶ reader ──(one Write per datagram)──────▶ stdin pipe / pty master
//	  │ shutdown(SHUT_WR) ─────────▶ reader EOF ─▶ CloseStdin once (-i, no --leave-stdin-open)
//	  │                                                                        │
//	  │ ◀── [2|3][payload ≤ 8192] ── writer ◀─ queue ≤ 1 MiB ◀─ Broadcast ◀──── stdout / stderr
//	  │ ◀── EOF ──────────────────── Close (container exit): flush, close
//	                                 Unlink (socket) … RemoveSymlink (after exit command)
//
//	ctl FIFO "TYPE H W\n" ─────────▶ ctl parser ─ 1 ─▶ winsz FIFO "H W\n" ─(pty known)─▶ TIOCSWINSZ
//	                                            └ 2 ─▶ Reopen callback (log files)
//	runtime ─ --console-socket ────▶ ConsoleSocket.Receive: SCM_RIGHTS pty master, +ONLCR
//
// Broadcast copies output into a bounded per-client queue and a per-client
// goroutine writes it out, so a client that lags a little costs nothing. A
// client whose queue is full gets conmon's back-pressure as long as it reads
// (no output is lost, e.g. `podman run ... | pager`); one that takes nothing
// for StallTimeout is disconnected with a warning, so a stuck client stalls
// the container once and briefly, never for good (backpressure.go). The log
// drivers are fed before Broadcast and always hold at least what clients got.
package attach
