// Heart Rate Measurement (GATT 0x2A37) decoder for the guest page's Web Bluetooth reading.
// The same rules as collectors/hrm.py (tests/test_morning_browser.py checks that both agree
// on every shared test vector): flags bit 0 uint16 HR, bit 1 contact (meaningful only with
// bit 2), bit 3 energy (uint16 kJ), bit 4 RR intervals (uint16, 1/1024 s, rounded half up
// to ms); an odd RR byte or bytes the flags do not describe are dropped (partial); a missing
// flags byte, missing/truncated HR or flagged-but-truncated energy is malformed.
"use strict";
(function (global) {
  function decode(bytes) {
    const data = bytes instanceof DataView
      ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      : bytes;
    const size = data.length;
    if (size < 1) throw new Error("malformed: empty notification");
    const flags = data[0];
    let offset = 1;
    let bpm;
    if (flags & 0x01) {
      if (size < offset + 2) throw new Error("malformed: 16-bit heart rate truncated");
      bpm = data[offset] | (data[offset + 1] << 8);
      offset += 2;
    } else {
      if (size < offset + 1) throw new Error("malformed: 8-bit heart rate missing");
      bpm = data[offset];
      offset += 1;
    }
    const contactSupported = Boolean(flags & 0x04);
    const contact = contactSupported ? Boolean(flags & 0x02) : null;
    let energyKj = null;
    if (flags & 0x08) {
      if (size < offset + 2) throw new Error("malformed: energy truncated");
      energyKj = data[offset] | (data[offset + 1] << 8);
      offset += 2;
    }
    const rrRaw = [];
    let partial = false;
    if (flags & 0x10) {
      const pairs = Math.floor((size - offset) / 2);
      for (let i = 0; i < pairs; i++) {
        rrRaw.push(data[offset + 2 * i] | (data[offset + 2 * i + 1] << 8));
      }
      partial = (size - offset) % 2 === 1;
    } else {
      partial = size > offset;
    }
    const rrMs = rrRaw.map((raw) => Math.floor((raw * 1000 + 512) / 1024));
    return { bpm, contact, contactSupported, energyKj, rrRaw, rrMs, partial };
  }
  global.GympulseHrm = { decode };
})(window);
