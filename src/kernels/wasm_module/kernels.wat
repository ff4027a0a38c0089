;; Loops of tag2pix's array kernels as WebAssembly, run on the heap of tfjs-backend-wasm (the
;; module imports that backend's memory). The JavaScript loops in src/kernels/*.ts compute the
;; same values; these run 2-4x faster because they need no bounds checks and use 128-bit SIMD.
;; Pointers are byte offsets into the heap, counts are elements. scripts/build-wasm-kernels.mjs
;; compiles this file into binary.ts, once for a shared memory (threaded build), once for a plain one.
(module
  (import "env" "memory" (memory 1 65536 MEMORY_SHARED))

  ;; PyTorch's Adam update (src/kernels/adam_update.ts), four elements at a time: every
  ;; operation is a float32 operation in the same order, so the result is bit for bit the same.
  (func (export "adam")
    (param $p i32) (param $m i32) (param $v i32) (param $g i32)
    (param $pOut i32) (param $mOut i32) (param $vOut i32) (param $n i32)
    (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32)
    (param $bc f32) (param $eps f32) (param $step f32)
    (local $o i32) (local $end i32) (local $vectorEnd i32)
    (local $gi v128) (local $mi v128) (local $vi v128)
    (local $B1 v128) (local $C1 v128) (local $B2 v128) (local $C2 v128)
    (local $BC v128) (local $EPS v128) (local $STEP v128)
    (local $gs f32) (local $ms f32) (local $vs f32)
    (local.set $B1 (f32x4.splat (local.get $b1)))
    (local.set $C1 (f32x4.splat (local.get $c1)))
    (local.set $B2 (f32x4.splat (local.get $b2)))
    (local.set $C2 (f32x4.splat (local.get $c2)))
    (local.set $BC (f32x4.splat (local.get $bc)))
    (local.set $EPS (f32x4.splat (local.get $eps)))
    (local.set $STEP (f32x4.splat (local.get $step)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $vectorEnd (i32.and (local.get $end) (i32.const -16)))
    (block $vectorDone
      (loop $vector
        (br_if $vectorDone (i32.ge_u (local.get $o) (local.get $vectorEnd)))
        (local.set $gi (v128.load (i32.add (local.get $g) (local.get $o))))
        (local.set $mi
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $o))) (local.get $B1))
            (f32x4.mul (local.get $gi) (local.get $C1))))
        (local.set $vi
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $o))) (local.get $B2))
            (f32x4.mul (f32x4.mul (local.get $gi) (local.get $gi)) (local.get $C2))))
        (v128.store (i32.add (local.get $pOut) (local.get $o))
          (f32x4.sub
            (v128.load (i32.add (local.get $p) (local.get $o)))
            (f32x4.mul
              (f32x4.div (local.get $mi)
                (f32x4.add (f32x4.div (f32x4.sqrt (local.get $vi)) (local.get $BC)) (local.get $EPS)))
              (local.get $STEP))))
        (v128.store (i32.add (local.get $mOut) (local.get $o)) (local.get $mi))
        (v128.store (i32.add (local.get $vOut) (local.get $o)) (local.get $vi))
        (local.set $o (i32.add (local.get $o) (i32.const 16)))
        (br $vector)))
    (block $scalarDone
      (loop $scalar
        (br_if $scalarDone (i32.ge_u (local.get $o) (local.get $end)))
        (local.set $gs (f32.load (i32.add (local.get $g) (local.get $o))))
        (local.set $ms
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $m) (local.get $o))) (local.get $b1))
            (f32.mul (local.get $gs) (local.get $c1))))
        (local.set $vs
          (f32.add
            (f32.mul (f32.load (i32.add (local.get $v) (local.get $o))) (local.get $b2))
            (f32.mul (f32.mul (local.get $gs) (local.get $gs)) (local.get $c2))))
        (f32.store (i32.add (local.get $pOut) (local.get $o))
          (f32.sub
            (f32.load (i32.add (local.get $p) (local.get $o)))
            (f32.mul
              (f32.div (local.get $ms)
                (f32.add (f32.div (f32.sqrt (local.get $vs)) (local.get $bc)) (local.get $eps)))
              (local.get $step))))
        (f32.store (i32.add (local.get $mOut) (local.get $o)) (local.get $ms))
        (f32.store (i32.add (local.get $vOut) (local.get $o)) (local.get $vs))
        (local.set $o (i32.add (local.get $o) (i32.const 4)))
        (br $scalar))))

  ;; One filter tap of the im2col kernel (src/kernels/im2col.ts): for each image row the tap
  ;; reads and each channel, a run of outWidth output pixels, zero where the tap falls outside the
  ;; image. Columns [first, end) of a run read x; sourceColumn is the input column of `first`.
  (func (export "im2colTap")
    (param $x i32) (param $out i32)
    (param $n i32) (param $height i32) (param $width i32) (param $channels i32)
    (param $outHeight i32) (param $outWidth i32) (param $strideHeight i32) (param $strideWidth i32)
    (param $rowOffset i32) (param $sourceColumn i32) (param $first i32) (param $end i32)
    (param $channelStride i32) (param $tapBase i32)
    (local $b i32) (local $oh i32) (local $c i32) (local $ih i32)
    (local $row i32) (local $runStart i32) (local $o i32) (local $runEnd i32) (local $s i32)
    (local $step i32) (local $source i32) (local $rowBytes i32) (local $channelBytes i32)
    (local.set $step (i32.shl (i32.mul (local.get $strideWidth) (local.get $channels)) (i32.const 2)))
    (local.set $rowBytes (i32.shl (local.get $outWidth) (i32.const 2)))
    (local.set $channelBytes (i32.shl (local.get $channelStride) (i32.const 2)))
    (block $batchDone
      (loop $batch
        (br_if $batchDone (i32.ge_u (local.get $b) (local.get $n)))
        (local.set $oh (i32.const 0))
        (block $rowsDone
          (loop $rows
            (br_if $rowsDone (i32.ge_u (local.get $oh) (local.get $outHeight)))
            (local.set $ih (i32.add (i32.mul (local.get $oh) (local.get $strideHeight)) (local.get $rowOffset)))
            ;; Byte address of this run for channel 0.
            (local.set $row
              (i32.add (local.get $out)
                (i32.shl
                  (i32.add (local.get $tapBase)
                    (i32.mul (i32.add (i32.mul (local.get $b) (local.get $outHeight)) (local.get $oh)) (local.get $outWidth)))
                  (i32.const 2))))
            (local.set $source
              (i32.add (local.get $x)
                (i32.shl
                  (i32.mul
                    (i32.add
                      (i32.mul (i32.add (i32.mul (local.get $b) (local.get $height)) (local.get $ih)) (local.get $width))
                      (local.get $sourceColumn))
                    (local.get $channels))
                  (i32.const 2))))
            (local.set $c (i32.const 0))
            (block $channelsDone
              (loop $channel
                (br_if $channelsDone (i32.ge_u (local.get $c) (local.get $channels)))
                (if (i32.ge_u (local.get $ih) (local.get $height))
                  (then (memory.fill (local.get $row) (i32.const 0) (local.get $rowBytes)))
                  (else
                    (memory.fill (local.get $row) (i32.const 0) (i32.shl (local.get $first) (i32.const 2)))
                    (local.set $o (i32.add (local.get $row) (i32.shl (local.get $first) (i32.const 2))))
                    (local.set $runEnd (i32.add (local.get $row) (i32.shl (local.get $end) (i32.const 2))))
                    (local.set $s (i32.add (local.get $source) (i32.shl (local.get $c) (i32.const 2))))
                    (block $copyDone
                      (loop $copy
                        (br_if $copyDone (i32.ge_u (local.get $o) (local.get $runEnd)))
                        (f32.store (local.get $o) (f32.load (local.get $s)))
                        (local.set $o (i32.add (local.get $o) (i32.const 4)))
                        (local.set $s (i32.add (local.get $s) (local.get $step)))
                        (br $copy)))
                    (memory.fill (local.get $runEnd) (i32.const 0)
                      (i32.shl (i32.sub (local.get $outWidth) (local.get $end)) (i32.const 2)))))
                (local.set $row (i32.add (local.get $row) (local.get $channelBytes)))
                (local.set $c (i32.add (local.get $c) (i32.const 1)))
                (br $channel)))
            (local.set $oh (i32.add (local.get $oh) (i32.const 1)))
            (br $rows)))
        (local.set $b (i32.add (local.get $b) (i32.const 1)))
        (br $batch))))

  ;; A rows x cols matrix transposed (src/kernels/swapped_taps.ts): dst[c][r] = src[r][c]. Written
  ;; in order, column by column of src; the rows a column reads stay cached for the next one.
  (func (export "transpose")
    (param $src i32) (param $dst i32) (param $rows i32) (param $cols i32)
    (local $c i32) (local $s i32) (local $o i32) (local $runEnd i32) (local $rowBytes i32)
    (local.set $rowBytes (i32.shl (local.get $cols) (i32.const 2)))
    (local.set $o (local.get $dst))
    (block $columnsDone
      (loop $column
        (br_if $columnsDone (i32.ge_u (local.get $c) (local.get $cols)))
        (local.set $s (i32.add (local.get $src) (i32.shl (local.get $c) (i32.const 2))))
        (local.set $runEnd (i32.add (local.get $o) (i32.shl (local.get $rows) (i32.const 2))))
        (block $copyDone
          (loop $copy
            (br_if $copyDone (i32.ge_u (local.get $o) (local.get $runEnd)))
            (f32.store (local.get $o) (f32.load (local.get $s)))
            (local.set $o (i32.add (local.get $o) (i32.const 4)))
            (local.set $s (i32.add (local.get $s) (local.get $rowBytes)))
            (br $copy)))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $column)))
  )
)
