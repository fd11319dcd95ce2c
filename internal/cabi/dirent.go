package cabi

import "encoding/binary"

// DirentFd decodes the first linux_dirent64 record in buf (as getdents64
// returns them) whose name is a number, as in /proc/self/fd: it returns the
// number (-1 for "." and ".." and any other name), the records after it,
// and false when buf does not start with a whole record.
//
//	struct linux_dirent64 {
//		u64 d_ino; s64 d_off; u16 d_reclen; u8 d_type; char d_name[];
//	};
func DirentFd(buf []byte) (fd int, rest []byte, ok bool) {
	const nameOff = 19
	if len(buf) < nameOff {
		return 0, nil, false
	}
	reclen := int(binary.NativeEndian.Uint16(buf[16:18]))
	if reclen <= nameOff || reclen > len(buf) {
		return 0, nil, false
	}
	name := buf[nameOff:reclen]
	fd = -1
	for i, c := range name {
		if c == 0 {
			name = name[:i]
			break
		}
	}
	if len(name) > 0 && len(name) <= 9 {
		fd = 0
		for _, c := range name {
			if c < '0' || c > '9' {
				fd = -1
				break
			}
			fd = fd*10 + int(c-'0')
		}
	}
	return fd, buf[reclen:], true
}
