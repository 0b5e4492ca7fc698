// Command mkpcap writes the RTP capture the sipp test plays: 5 s of a
// 440 Hz tone at -12 dBFS in PCMU (RTP payload type 0), 20 ms per packet,
// as Ethernet/IPv4/UDP frames in a classic pcap file. It was run once:
//
//	go run ./testdata/sip/mkpcap > testdata/sip/tone-440-pcmu.pcap
//
// The addresses in it are placeholders: sipp's play_pcap_audio sends the
// RTP from its own media port to the address in confd's answer.
package main

import (
	"bufio"
	"encoding/binary"
	"math"
	"os"

	"github.com/confd/confd/mixer"
)

const (
	packets = 250 // 5 s
	frame   = 160 // 20 ms at 8 kHz
	hz      = 440.0
)

func main() {
	w := bufio.NewWriter(os.Stdout)
	defer w.Flush()
	// pcap global header: magic, v2.4, UTC, accuracy, snaplen, Ethernet.
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 65535)
	binary.LittleEndian.PutUint32(hdr[20:], 1)
	w.Write(hdr)
	pcm := make([]int16, frame)
	for i := range packets {
		for j := range pcm {
			n := float64(i*frame + j)
			pcm[j] = int16(0.25 * 32767 * math.Sin(2*math.Pi*hz*n/mixer.NarrowRate))
		}
		w.Write(record(i, pcm))
	}
}

// record is one pcap record: a 20 ms RTP packet in UDP in IPv4 in Ethernet.
func record(i int, pcm []int16) []byte {
	rtp := make([]byte, 12+frame)
	rtp[0] = 0x80
	if i == 0 {
		rtp[1] = 0x80 // marker: start of the talkspurt
	}
	binary.BigEndian.PutUint16(rtp[2:], uint16(1000+i))
	binary.BigEndian.PutUint32(rtp[4:], uint32(i*frame))
	binary.BigEndian.PutUint32(rtp[8:], 0x5eed1234)
	mixer.EncodeULaw(rtp[12:], pcm)

	udp := make([]byte, 8, 8+len(rtp))
	binary.BigEndian.PutUint16(udp[0:], 6000)
	binary.BigEndian.PutUint16(udp[2:], 6000)
	binary.BigEndian.PutUint16(udp[4:], uint16(8+len(rtp)))
	udp = append(udp, rtp...)

	ip := make([]byte, 20, 20+len(udp))
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(udp)))
	ip[8], ip[9] = 64, 17
	copy(ip[12:], []byte{127, 0, 0, 1})
	copy(ip[16:], []byte{127, 0, 0, 1})
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	ip = append(ip, udp...)

	eth := make([]byte, 14, 14+len(ip))
	binary.BigEndian.PutUint16(eth[12:], 0x0800)
	eth = append(eth, ip...)

	rec := make([]byte, 16, 16+len(eth))
	us := i * 20000
	binary.LittleEndian.PutUint32(rec[0:], uint32(us/1e6))
	binary.LittleEndian.PutUint32(rec[4:], uint32(us%1e6))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(eth)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(eth)))
	return append(rec, eth...)
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
