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

  ;; Grouped convolution (src/kernels/grouped_conv.ts), NHWC, PyTorch's contiguous groups:
  ;; out[b, oy, ox, o] = sum over taps (ky, kx) inside the image and j < groupIn of
  ;; x[b, oy*stride - pad + ky, ox*stride - pad + kx, group(o)*groupIn + j] * k[ky, kx, j, o].
  ;; Four output channels per vector: with groupOut a multiple of 4 they share one group (one
  ;; splatted input); with groupOut 2 they span two (two splats, shuffled together). Interior
  ;; pixels go four at a time, so each weight vector loaded serves four multiplies.
  (global $gK (mut i32) (i32.const 0))
  (global $gRowBytes (mut i32) (i32.const 0))
  (global $gPixelBytes (mut i32) (i32.const 0))
  (global $gStepBytes (mut i32) (i32.const 0))
  (global $gKw (mut i32) (i32.const 0))
  (global $gGroupIn (mut i32) (i32.const 0))
  (global $gGroupOut (mut i32) (i32.const 0))
  (global $gOutC (mut i32) (i32.const 0))

  ;; `count` (1 or 4) neighbouring output pixels at `op`; `xp` is the address of input pixel
  ;; (iy0, ix0) of the first (outside the image where the taps are clipped), taps [kyS, kyE) x [kxS, kxE).
  (func $groupedConvPixels
    (param $xp i32) (param $op i32) (param $count i32)
    (param $kyS i32) (param $kyE i32) (param $kxS i32) (param $kxE i32)
    (local $oc i32) (local $ky i32) (local $kx i32) (local $j i32) (local $xa i32) (local $wa i32)
    (local $pair i32) (local $groupBytes i32) (local $outCBytes i32) (local $step i32) (local $tapIn i32)
    (local $step2 i32) (local $step3 i32) (local $groupInBytes i32) (local $pairBytes i32) (local $xEnd i32)
    (local $w v128) (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local.set $pair (i32.eq (global.get $gGroupOut) (i32.const 2)))
    (local.set $outCBytes (i32.shl (global.get $gOutC) (i32.const 2)))
    (local.set $step (global.get $gStepBytes))
    (local.set $step2 (i32.shl (local.get $step) (i32.const 1)))
    (local.set $step3 (i32.mul (local.get $step) (i32.const 3)))
    (local.set $groupInBytes (i32.shl (global.get $gGroupIn) (i32.const 2)))
    (local.set $pairBytes (local.get $groupInBytes))
    (block $ocDone
      (loop $ocLoop
        (br_if $ocDone (i32.ge_u (local.get $oc) (global.get $gOutC)))
        ;; Byte offset of this group's first input channel.
        (local.set $groupBytes
          (i32.shl (i32.mul (i32.div_u (local.get $oc) (global.get $gGroupOut)) (global.get $gGroupIn)) (i32.const 2)))
        (local.set $acc0 (v128.const i32x4 0 0 0 0))
        (local.set $acc1 (local.get $acc0))
        (local.set $acc2 (local.get $acc0))
        (local.set $acc3 (local.get $acc0))
        (local.set $ky (local.get $kyS))
        (block $kyDone
          (loop $kyLoop
            (br_if $kyDone (i32.ge_s (local.get $ky) (local.get $kyE)))
            (local.set $kx (local.get $kxS))
            (block $kxDone
              (loop $kxLoop
                (br_if $kxDone (i32.ge_s (local.get $kx) (local.get $kxE)))
                (local.set $xa
                  (i32.add
                    (i32.add (local.get $xp) (local.get $groupBytes))
                    (i32.add (i32.mul (local.get $ky) (global.get $gRowBytes)) (i32.mul (local.get $kx) (global.get $gPixelBytes)))))
                (local.set $tapIn (i32.mul (i32.add (i32.mul (local.get $ky) (global.get $gKw)) (local.get $kx)) (global.get $gGroupIn)))
                (local.set $wa
                  (i32.add (global.get $gK)
                    (i32.shl (i32.add (i32.mul (local.get $tapIn) (global.get $gOutC)) (local.get $oc)) (i32.const 2))))
                (local.set $xEnd (i32.add (local.get $xa) (local.get $groupInBytes)))
                ;; Four variants, so that the inner loops carry no branch: pixels 4 or 1, groupOut 2 or 4k.
                (if (i32.eq (local.get $count) (i32.const 4))
                  (then
                    (if (local.get $pair)
                      (then
                    (block $p4Done
                      (loop $p4
                        (br_if $p4Done (i32.ge_u (local.get $xa) (local.get $xEnd)))
                        (local.set $w (v128.load (local.get $wa)))
                        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (v128.load32_splat (local.get $xa)) (v128.load32_splat (i32.add (local.get $xa) (local.get $pairBytes)))) (local.get $w))))
                        (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (v128.load32_splat (i32.add (local.get $xa) (local.get $step))) (v128.load32_splat (i32.add (i32.add (local.get $xa) (local.get $step)) (local.get $pairBytes)))) (local.get $w))))
                        (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (v128.load32_splat (i32.add (local.get $xa) (local.get $step2))) (v128.load32_splat (i32.add (i32.add (local.get $xa) (local.get $step2)) (local.get $pairBytes)))) (local.get $w))))
                        (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (v128.load32_splat (i32.add (local.get $xa) (local.get $step3))) (v128.load32_splat (i32.add (i32.add (local.get $xa) (local.get $step3)) (local.get $pairBytes)))) (local.get $w))))
                        (local.set $xa (i32.add (local.get $xa) (i32.const 4)))
                        (local.set $wa (i32.add (local.get $wa) (local.get $outCBytes)))
                        (br $p4)))
                      )
                      (else
                    (block $s4Done
                      (loop $s4
                        (br_if $s4Done (i32.ge_u (local.get $xa) (local.get $xEnd)))
                        (local.set $w (v128.load (local.get $wa)))
                        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (v128.load32_splat (local.get $xa)) (local.get $w))))
                        (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (v128.load32_splat (i32.add (local.get $xa) (local.get $step))) (local.get $w))))
                        (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (v128.load32_splat (i32.add (local.get $xa) (local.get $step2))) (local.get $w))))
                        (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul (v128.load32_splat (i32.add (local.get $xa) (local.get $step3))) (local.get $w))))
                        (local.set $xa (i32.add (local.get $xa) (i32.const 4)))
                        (local.set $wa (i32.add (local.get $wa) (local.get $outCBytes)))
                        (br $s4)))
                      )))
                  (else
                    (if (local.get $pair)
                      (then
                    (block $p1Done
                      (loop $p1
                        (br_if $p1Done (i32.ge_u (local.get $xa) (local.get $xEnd)))
                        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (v128.load32_splat (local.get $xa)) (v128.load32_splat (i32.add (local.get $xa) (local.get $pairBytes)))) (v128.load (local.get $wa)))))
                        (local.set $xa (i32.add (local.get $xa) (i32.const 4)))
                        (local.set $wa (i32.add (local.get $wa) (local.get $outCBytes)))
                        (br $p1)))
                      )
                      (else
                    (block $s1Done
                      (loop $s1
                        (br_if $s1Done (i32.ge_u (local.get $xa) (local.get $xEnd)))
                        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (v128.load32_splat (local.get $xa)) (v128.load (local.get $wa)))))
                        (local.set $xa (i32.add (local.get $xa) (i32.const 4)))
                        (local.set $wa (i32.add (local.get $wa) (local.get $outCBytes)))
                        (br $s1)))
                      ))))
                (local.set $kx (i32.add (local.get $kx) (i32.const 1)))
                (br $kxLoop)))
            (local.set $ky (i32.add (local.get $ky) (i32.const 1)))
            (br $kyLoop)))
        (v128.store (i32.add (local.get $op) (i32.shl (local.get $oc) (i32.const 2))) (local.get $acc0))
        (if (i32.eq (local.get $count) (i32.const 4))
          (then
            (v128.store (i32.add (i32.add (local.get $op) (local.get $outCBytes)) (i32.shl (local.get $oc) (i32.const 2))) (local.get $acc1))
            (v128.store (i32.add (i32.add (local.get $op) (i32.shl (local.get $outCBytes) (i32.const 1))) (i32.shl (local.get $oc) (i32.const 2))) (local.get $acc2))
            (v128.store (i32.add (i32.add (local.get $op) (i32.mul (local.get $outCBytes) (i32.const 3))) (i32.shl (local.get $oc) (i32.const 2))) (local.get $acc3))))
        (local.set $oc (i32.add (local.get $oc) (i32.const 4)))
        (br $ocLoop))))

  ;; Output rows [rowStart, rowEnd) of the batch's outHeight-row images.
  ;; Pixels [oxLo, oxHi) read no padding; groupOut is 2 or a multiple of 4, outC a multiple of 4.
  (func (export "groupedConv")
    (param $x i32) (param $k i32) (param $out i32)
    (param $height i32) (param $width i32) (param $channels i32)
    (param $outHeight i32) (param $outWidth i32) (param $kh i32) (param $kw i32)
    (param $stride i32) (param $pad i32) (param $groupIn i32) (param $groupOut i32) (param $outC i32)
    (param $oxLo i32) (param $oxHi i32) (param $rowStart i32) (param $rowEnd i32)
    (local $row i32) (local $b i32) (local $oy i32) (local $iy0 i32) (local $kyS i32) (local $kyE i32)
    (local $ox i32) (local $ix0 i32) (local $xRow i32) (local $op i32) (local $kxS i32) (local $kxE i32)
    (local $pixelBytes i32) (local $outPixelBytes i32)
    (global.set $gK (local.get $k))
    (global.set $gKw (local.get $kw))
    (global.set $gGroupIn (local.get $groupIn))
    (global.set $gGroupOut (local.get $groupOut))
    (global.set $gOutC (local.get $outC))
    (local.set $pixelBytes (i32.shl (local.get $channels) (i32.const 2)))
    (local.set $outPixelBytes (i32.shl (local.get $outC) (i32.const 2)))
    (global.set $gPixelBytes (local.get $pixelBytes))
    (global.set $gRowBytes (i32.mul (local.get $width) (local.get $pixelBytes)))
    (global.set $gStepBytes (i32.mul (local.get $stride) (local.get $pixelBytes)))
    (local.set $row (local.get $rowStart))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $row) (local.get $rowEnd)))
        (local.set $b (i32.div_u (local.get $row) (local.get $outHeight)))
        (local.set $oy (i32.rem_u (local.get $row) (local.get $outHeight)))
        (local.set $iy0 (i32.sub (i32.mul (local.get $oy) (local.get $stride)) (local.get $pad)))
        (local.set $kyS (select (i32.sub (i32.const 0) (local.get $iy0)) (i32.const 0) (i32.lt_s (local.get $iy0) (i32.const 0))))
        (local.set $kyE (i32.sub (local.get $height) (local.get $iy0)))
        (if (i32.gt_s (local.get $kyE) (local.get $kh)) (then (local.set $kyE (local.get $kh))))
        (local.set $xRow
          (i32.add (local.get $x)
            (i32.mul (i32.add (i32.mul (local.get $b) (local.get $height)) (local.get $iy0)) (global.get $gRowBytes))))
        (local.set $op (i32.add (local.get $out) (i32.mul (local.get $row) (i32.mul (local.get $outWidth) (local.get $outPixelBytes)))))
        (local.set $ox (i32.const 0))
        (block $colsDone
          (loop $cols
            (br_if $colsDone (i32.ge_u (local.get $ox) (local.get $outWidth)))
            (local.set $ix0 (i32.sub (i32.mul (local.get $ox) (local.get $stride)) (local.get $pad)))
            (if (i32.and (i32.ge_u (local.get $ox) (local.get $oxLo)) (i32.le_u (i32.add (local.get $ox) (i32.const 4)) (local.get $oxHi)))
              (then
                (call $groupedConvPixels
                  (i32.add (local.get $xRow) (i32.mul (local.get $ix0) (local.get $pixelBytes))) (local.get $op) (i32.const 4)
                  (local.get $kyS) (local.get $kyE) (i32.const 0) (local.get $kw))
                (local.set $op (i32.add (local.get $op) (i32.shl (local.get $outPixelBytes) (i32.const 2))))
                (local.set $ox (i32.add (local.get $ox) (i32.const 4))))
              (else
                (local.set $kxS (select (i32.sub (i32.const 0) (local.get $ix0)) (i32.const 0) (i32.lt_s (local.get $ix0) (i32.const 0))))
                (local.set $kxE (i32.sub (local.get $width) (local.get $ix0)))
                (if (i32.gt_s (local.get $kxE) (local.get $kw)) (then (local.set $kxE (local.get $kw))))
                (call $groupedConvPixels
                  (i32.add (local.get $xRow) (i32.mul (local.get $ix0) (local.get $pixelBytes))) (local.get $op) (i32.const 1)
                  (local.get $kyS) (local.get $kyE) (local.get $kxS) (local.get $kxE))
                (local.set $op (i32.add (local.get $op) (local.get $outPixelBytes)))
                (local.set $ox (i32.add (local.get $ox) (i32.const 1)))))
            (br $cols)))
        (local.set $row (i32.add (local.get $row) (i32.const 1)))
        (br $rows))))

;; Filter gradient of the grouped convolution above (src/kernels/grouped_conv.ts):
  ;; dk[ky, kx, j, o] = sum over images b, output pixels (oy, ox) whose tap (ky, kx) falls inside
  ;; the image of x[b, oy*stride - pad + ky, ox*stride - pad + kx, group(o)*groupIn + j] * dy[b, oy, ox, o].
  ;; A row is one tap and four output channels (outC / 4 rows per tap, tap-major); it sums its
  ;; input channels four (or two) at a time, each dy vector loaded serving all of them. groupIn
  ;; is even; groupOut 2 or a multiple of 4, as for the forward loop.
  (func (export "groupedConvFilterGrad")
    (param $x i32) (param $dy i32) (param $out i32)
    (param $n i32) (param $height i32) (param $width i32) (param $channels i32)
    (param $outHeight i32) (param $outWidth i32) (param $kw i32)
    (param $stride i32) (param $pad i32) (param $groupIn i32) (param $groupOut i32) (param $outC i32)
    (param $rowStart i32) (param $rowEnd i32)
    (local $r i32) (local $vectors i32) (local $tap i32) (local $oc i32) (local $ky i32) (local $kx i32)
    (local $groupBytes i32) (local $pair i32) (local $pairBytes i32) (local $block i32) (local $j i32)
    (local $oxS i32) (local $oxE i32) (local $t i32) (local $b i32) (local $oy i32) (local $iy i32)
    (local $xp i32) (local $dyp i32) (local $dyEnd i32) (local $xStep i32) (local $outCBytes i32) (local $o i32)
    (local $d v128) (local $acc0 v128) (local $acc1 v128) (local $acc2 v128) (local $acc3 v128)
    (local.set $vectors (i32.shr_u (local.get $outC) (i32.const 2)))
    (local.set $pair (i32.eq (local.get $groupOut) (i32.const 2)))
    (local.set $pairBytes (i32.shl (local.get $groupIn) (i32.const 2)))
    (local.set $block (select (i32.const 4) (i32.const 2) (i32.eqz (i32.and (local.get $groupIn) (i32.const 3)))))
    (local.set $xStep (i32.shl (i32.mul (local.get $stride) (local.get $channels)) (i32.const 2)))
    (local.set $outCBytes (i32.shl (local.get $outC) (i32.const 2)))
    (local.set $r (local.get $rowStart))
    (block $rowsDone
      (loop $rows
        (br_if $rowsDone (i32.ge_u (local.get $r) (local.get $rowEnd)))
        (local.set $tap (i32.div_u (local.get $r) (local.get $vectors)))
        (local.set $oc (i32.shl (i32.rem_u (local.get $r) (local.get $vectors)) (i32.const 2)))
        (local.set $ky (i32.div_u (local.get $tap) (local.get $kw)))
        (local.set $kx (i32.rem_u (local.get $tap) (local.get $kw)))
        (local.set $groupBytes
          (i32.shl (i32.mul (i32.div_u (local.get $oc) (local.get $groupOut)) (local.get $groupIn)) (i32.const 2)))
        ;; Output columns whose input column ox*stride - pad + kx is inside the image: [oxS, oxE).
        (local.set $oxS (i32.const 0))
        (local.set $t (i32.sub (local.get $pad) (local.get $kx)))
        (if (i32.gt_s (local.get $t) (i32.const 0))
          (then (local.set $oxS (i32.div_u (i32.add (local.get $t) (i32.sub (local.get $stride) (i32.const 1))) (local.get $stride)))))
        (local.set $oxE (local.get $oxS))
        (local.set $t (i32.add (i32.sub (i32.sub (local.get $width) (i32.const 1)) (local.get $kx)) (local.get $pad)))
        (if (i32.ge_s (local.get $t) (i32.const 0))
          (then
            (local.set $t (i32.add (i32.div_u (local.get $t) (local.get $stride)) (i32.const 1)))
            (if (i32.gt_s (local.get $t) (local.get $outWidth)) (then (local.set $t (local.get $outWidth))))
            (if (i32.gt_s (local.get $t) (local.get $oxE)) (then (local.set $oxE (local.get $t))))))
        (local.set $j (i32.const 0))
        (block $jDone
          (loop $jLoop
            (br_if $jDone (i32.ge_u (local.get $j) (local.get $groupIn)))
            (local.set $acc0 (v128.const i32x4 0 0 0 0))
            (local.set $acc1 (local.get $acc0))
            (local.set $acc2 (local.get $acc0))
            (local.set $acc3 (local.get $acc0))
            (local.set $b (i32.const 0))
            (block $bDone
              (loop $bLoop
                (br_if $bDone (i32.ge_u (local.get $b) (local.get $n)))
                (local.set $oy (i32.const 0))
                (block $oyDone
                  (loop $oyLoop
                    (br_if $oyDone (i32.ge_u (local.get $oy) (local.get $outHeight)))
                    (local.set $iy (i32.add (i32.sub (i32.mul (local.get $oy) (local.get $stride)) (local.get $pad)) (local.get $ky)))
                    (if (i32.and (i32.ge_s (local.get $iy) (i32.const 0)) (i32.lt_s (local.get $iy) (local.get $height)))
                      (then
                        (local.set $xp
                          (i32.add (local.get $x)
                            (i32.add
                              (i32.shl
                                (i32.mul
                                  (i32.add
                                    (i32.mul (i32.add (i32.mul (local.get $b) (local.get $height)) (local.get $iy)) (local.get $width))
                                    (i32.add (i32.sub (i32.mul (local.get $oxS) (local.get $stride)) (local.get $pad)) (local.get $kx)))
                                  (local.get $channels))
                                (i32.const 2))
                              (i32.add (local.get $groupBytes) (i32.shl (local.get $j) (i32.const 2))))))
                        (local.set $dyp
                          (i32.add (local.get $dy)
                            (i32.shl
                              (i32.add
                                (i32.mul
                                  (i32.add (i32.mul (i32.add (i32.mul (local.get $b) (local.get $outHeight)) (local.get $oy)) (local.get $outWidth))
                                    (local.get $oxS))
                                  (local.get $outC))
                                (local.get $oc))
                              (i32.const 2))))
                        (local.set $dyEnd (i32.add (local.get $dyp) (i32.mul (i32.sub (local.get $oxE) (local.get $oxS)) (local.get $outCBytes))))
                        ;; Four variants, so that the inner loops carry no branch.
                        (if (i32.eq (local.get $block) (i32.const 4))
                          (then
                            (if (local.get $pair)
                              (then
                    (block $p4Done
                      (loop $p4
                        (br_if $p4Done (i32.ge_u (local.get $dyp) (local.get $dyEnd)))
                        (local.set $d (v128.load (local.get $dyp)))
                        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (v128.load32_splat (local.get $xp)) (v128.load32_splat (i32.add (local.get $xp) (local.get $pairBytes)))) (local.get $d))))
                        (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (v128.load32_splat (i32.add (local.get $xp) (i32.const 4))) (v128.load32_splat (i32.add (i32.add (local.get $xp) (i32.const 4)) (local.get $pairBytes)))) (local.get $d))))
                        (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (v128.load32_splat (i32.add (local.get $xp) (i32.const 8))) (v128.load32_splat (i32.add (i32.add (local.get $xp) (i32.const 8)) (local.get $pairBytes)))) (local.get $d))))
                        (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (v128.load32_splat (i32.add (local.get $xp) (i32.const 12))) (v128.load32_splat (i32.add (i32.add (local.get $xp) (i32.const 12)) (local.get $pairBytes)))) (local.get $d))))
                        (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                        (local.set $dyp (i32.add (local.get $dyp) (local.get $outCBytes)))
                        (br $p4)))
                              )
                              (else
                    (block $s4Done
                      (loop $s4
                        (br_if $s4Done (i32.ge_u (local.get $dyp) (local.get $dyEnd)))
                        (local.set $d (v128.load (local.get $dyp)))
                        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (v128.load32_splat (local.get $xp)) (local.get $d))))
                        (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (v128.load32_splat (i32.add (local.get $xp) (i32.const 4))) (local.get $d))))
                        (local.set $acc2 (f32x4.add (local.get $acc2) (f32x4.mul (v128.load32_splat (i32.add (local.get $xp) (i32.const 8))) (local.get $d))))
                        (local.set $acc3 (f32x4.add (local.get $acc3) (f32x4.mul (v128.load32_splat (i32.add (local.get $xp) (i32.const 12))) (local.get $d))))
                        (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                        (local.set $dyp (i32.add (local.get $dyp) (local.get $outCBytes)))
                        (br $s4)))
                              )))
                          (else
                            (if (local.get $pair)
                              (then
                    (block $p2Done
                      (loop $p2
                        (br_if $p2Done (i32.ge_u (local.get $dyp) (local.get $dyEnd)))
                        (local.set $d (v128.load (local.get $dyp)))
                        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (v128.load32_splat (local.get $xp)) (v128.load32_splat (i32.add (local.get $xp) (local.get $pairBytes)))) (local.get $d))))
                        (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (i8x16.shuffle 0 1 2 3 4 5 6 7 16 17 18 19 20 21 22 23 (v128.load32_splat (i32.add (local.get $xp) (i32.const 4))) (v128.load32_splat (i32.add (i32.add (local.get $xp) (i32.const 4)) (local.get $pairBytes)))) (local.get $d))))
                        (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                        (local.set $dyp (i32.add (local.get $dyp) (local.get $outCBytes)))
                        (br $p2)))
                              )
                              (else
                    (block $s2Done
                      (loop $s2
                        (br_if $s2Done (i32.ge_u (local.get $dyp) (local.get $dyEnd)))
                        (local.set $d (v128.load (local.get $dyp)))
                        (local.set $acc0 (f32x4.add (local.get $acc0) (f32x4.mul (v128.load32_splat (local.get $xp)) (local.get $d))))
                        (local.set $acc1 (f32x4.add (local.get $acc1) (f32x4.mul (v128.load32_splat (i32.add (local.get $xp) (i32.const 4))) (local.get $d))))
                        (local.set $xp (i32.add (local.get $xp) (local.get $xStep)))
                        (local.set $dyp (i32.add (local.get $dyp) (local.get $outCBytes)))
                        (br $s2)))
                              ))))))
                    (local.set $oy (i32.add (local.get $oy) (i32.const 1)))
                    (br $oyLoop)))
                (local.set $b (i32.add (local.get $b) (i32.const 1)))
                (br $bLoop)))
            ;; dk[tap, j + q, oc..oc+3] for the block's input channels q.
            (local.set $o
              (i32.add (local.get $out)
                (i32.shl
                  (i32.add (i32.mul (i32.add (i32.mul (local.get $tap) (local.get $groupIn)) (local.get $j)) (local.get $outC)) (local.get $oc))
                  (i32.const 2))))
            (v128.store (local.get $o) (local.get $acc0))
            (v128.store (i32.add (local.get $o) (local.get $outCBytes)) (local.get $acc1))
            (if (i32.eq (local.get $block) (i32.const 4))
              (then
                (v128.store (i32.add (local.get $o) (i32.shl (local.get $outCBytes) (i32.const 1))) (local.get $acc2))
                (v128.store (i32.add (local.get $o) (i32.mul (local.get $outCBytes) (i32.const 3))) (local.get $acc3))))
            (local.set $j (i32.add (local.get $j) (local.get $block)))
            (br $jLoop)))
        (local.set $r (i32.add (local.get $r) (i32.const 1)))
        (br $rows))))

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
