// A tiny arm64 Linux "Image" that U-Boot's `booti` accepts as a kernel: it prints
// "fw slot X running" on the PL011 UART of QEMU's virt board (0x09000000), then the
// `fw.slot=` it finds in the device tree U-Boot hands over in x0 (the bootargs the
// boot script set), and powers the machine off with PSCI SYSTEM_OFF (hvc #0).
// SLOT is the ASCII code of the slot baked in ('A' or 'B'): assemble with
//   aarch64-linux-gnu-as --defsym SLOT=0x41 payload.S -o a.o
// and link with payload.ld (ld.bfd or ld.lld). Position independent: only pc-relative
// addressing (adr), so booti may place it anywhere.
        .section .text.head, "ax"
        .global _start
_start:
        b       entry                   // code0: branch over the 64-byte header
        .long   0                       // code1
        .quad   0                       // text_offset
        .quad   _image_end - _start     // image_size (bytes booti must reserve)
        .quad   0xa                     // flags: little-endian, 4K pages, anywhere in RAM
        .quad   0, 0, 0                 // res2..res4
        .ascii  "ARM\x64"               // magic
        .long   0                       // res5

        .text
entry:
        mov     x20, x0                 // the FDT U-Boot passes
        adr     x1, msg_running
        bl      puts
        // Search the FDT (big-endian totalsize at offset 4) for "fw.slot=".
        cbz     x20, no_slot
        ldr     w2, [x20]               // magic 0xd00dfeed (big-endian)
        rev     w2, w2
        movz    w3, #0xfeed
        movk    w3, #0xd00d, lsl #16
        cmp     w2, w3
        b.ne    no_slot
        ldr     w21, [x20, #4]
        rev     w21, w21                // totalsize
        cmp     w21, #0x100000
        b.hi    no_slot
        add     x21, x20, x21           // end of the blob
        sub     x21, x21, #9            // room for "fw.slot=" + one character
        mov     x22, x20
search:
        cmp     x22, x21
        b.hs    no_slot
        adr     x3, key
        mov     x4, x22
cmp_loop:
        ldrb    w5, [x3], #1
        cbz     w5, found
        ldrb    w6, [x4], #1
        cmp     w5, w6
        b.eq    cmp_loop
        add     x22, x22, #1
        b       search
found:
        adr     x1, msg_args
        bl      puts
        ldrb    w0, [x4]                // the character after "fw.slot="
        bl      putc
        mov     w0, #'\n'
        bl      putc
        b       off
no_slot:
        adr     x1, msg_noslot
        bl      puts
off:
        movz    x0, #0x0008
        movk    x0, #0x8400, lsl #16    // PSCI SYSTEM_OFF
        hvc     #0
hang:
        wfi
        b       hang

// putc: w0 = character; puts: x1 = NUL-terminated string. Clobber x0-x3, x19 (puts).
putc:
        movz    x2, #0x0900, lsl #16    // PL011 base 0x09000000
1:      ldr     w3, [x2, #0x18]         // UARTFR
        tbnz    w3, #5, 1b              // TXFF: transmit FIFO full
        strb    w0, [x2]                // UARTDR
        ret
puts:
        mov     x19, x30
2:      ldrb    w0, [x1], #1
        cbz     w0, 3f
        bl      putc
        b       2b
3:      mov     x30, x19
        ret

msg_running:
        .ascii  "fw slot "
        .byte   SLOT
        .asciz  " running\n"
msg_args:
        .asciz  "bootargs: fw.slot="
msg_noslot:
        .asciz  "bootargs: no fw.slot\n"
key:
        .asciz  "fw.slot="
        .balign 8
_image_end:
